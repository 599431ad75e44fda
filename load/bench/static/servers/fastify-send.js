// @fastify/send 4.2.1 (the maintained fork of send) on a bare node:http server.
'use strict';
const { createServer } = require('node:http');
const { peer, portAndRoot } = require('./peers.js');

const { send } = peer('@fastify/send');
const { port, root } = portAndRoot();
createServer((req, res) => {
  const path = req.url.split('?', 1)[0]; // raw, as express's parseurl gives it
  send(req, path, { root }).then(
    ({ statusCode, headers, stream }) => {
      res.writeHead(statusCode, headers);
      stream.pipe(res);
    },
    () => {
      res.statusCode = 500;
      res.end();
    },
  );
}).listen(port, '127.0.0.1');
