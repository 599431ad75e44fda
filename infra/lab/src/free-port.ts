import { createServer } from 'node:net';

/**
 * A TCP port that is free right now on `host`, found by binding port 0. Another process could
 * take it before the child binds it; for a dev lab on loopback that window is acceptable.
 */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port was assigned'))));
    });
  });
}
