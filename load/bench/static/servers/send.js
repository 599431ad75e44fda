// send 1.2.1 (the module behind express.static) on a bare node:http server.
'use strict';
const { createServer } = require('node:http');
const { peer, portAndRoot } = require('./peers.js');

const send = peer('send');
const { port, root } = portAndRoot();
createServer((req, res) => {
  const path = req.url.split('?', 1)[0]; // raw, as express's parseurl gives it
  send(req, path, { root }).pipe(res);
}).listen(port, '127.0.0.1');
