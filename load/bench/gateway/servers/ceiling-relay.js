// NOT a peer and NOT a usable proxy: the "ceiling" system. A bare node:http server that forwards
// every request to the upstream over raw keep-alive sockets and copies the answer back, with no
// routing, no header hygiene, no limits, no metrics, no logging and a parser that only knows
// `Content-Length` (enough for nginx's 1 KiB file). It measures how fast any proxy built on
// node:http's server can go on this machine: the gateway cannot beat it, only approach it.
'use strict';
const { createServer } = require('node:http');
const { connect } = require('node:net');
const { portAndUpstream } = require('./peers.js');

const { port, upstream } = portAndUpstream();
const target = new URL(upstream);
const idle = [];
const CRLF2 = Buffer.from('\r\n\r\n');

function relay(req, res, sock) {
  sock.current = { req, res };
  sock.write(`${req.method} ${req.url} HTTP/1.1\r\nhost: ${target.host}\r\n\r\n`, 'latin1');
}

function onData(data) {
  // A response may come in several reads (nginx writes the head, then sendfile()s the body).
  const buf = this.held === undefined ? data : Buffer.concat([this.held, data]);
  const end = buf.indexOf(CRLF2);
  if (end < 0) {
    this.held = buf;
    return;
  }
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const headers = [];
  let length = 0;
  for (let i = 1; i < lines.length; i++) {
    const c = lines[i].indexOf(':');
    const name = lines[i].slice(0, c).toLowerCase();
    const value = lines[i].slice(c + 1).trim();
    if (name === 'content-length') length = Number(value);
    if (name !== 'connection' && name !== 'keep-alive') headers.push(name, value);
  }
  if (buf.length < end + 4 + length) {
    this.held = buf;
    return;
  }
  this.held = undefined;
  const cur = this.current;
  this.current = undefined;
  idle.push(this);
  cur.res.writeHead(Number(lines[0].slice(9, 12)), headers);
  cur.res.end(buf.subarray(end + 4));
}

createServer((req, res) => {
  const sock = idle.pop();
  if (sock !== undefined) return relay(req, res, sock);
  const s = connect({ host: target.hostname, port: Number(target.port), noDelay: true });
  s.on('data', onData);
  s.once('connect', () => relay(req, res, s));
}).listen(port, '127.0.0.1');
// Exit normally on SIGTERM, so that `node --cpu-prof` writes its profile.
process.on('SIGTERM', () => process.exit(0));
