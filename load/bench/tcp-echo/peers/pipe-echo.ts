// The bare Node peer: a `node:net` echo that is nothing but `socket.pipe(socket)`.
// usage: node pipe-echo.ts PORT [HOST]
import { createServer } from 'node:net';

const port = Number(process.argv[2] ?? 7101);
const host = process.argv[3] ?? '127.0.0.1';

createServer((socket) => {
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
}).listen(port, host);
