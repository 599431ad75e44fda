// http-proxy (node-http-proxy) on a bare node:http server, with a keep-alive agent to the
// upstream: the classic Node reverse proxy.
'use strict';
const { Agent, createServer } = require('node:http');
const { peer, portAndUpstream } = require('./peers.js');

const httpProxy = peer('http-proxy');
const { port, upstream } = portAndUpstream();
const proxy = httpProxy.createProxyServer({
  target: upstream,
  agent: new Agent({ keepAlive: true, maxSockets: 256 }),
  xfwd: true,
});
proxy.on('error', (_err, _req, res) => {
  res.writeHead?.(502);
  res.end?.();
});
createServer((req, res) => proxy.web(req, res)).listen(port, '127.0.0.1');
