import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server as NetServer } from 'node:net';

/** Listens and resolves with the bound address (tests pass port 0 and read the real one). */
export function listen(server: NetServer, port: number, host?: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** `http://host:port` for an address, with IPv6 literals bracketed. */
export function httpUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The host others should use: ADVERTISE_HOST when set, else the bind host, except that a
 * wildcard bind (0.0.0.0, ::) is not reachable as such and becomes loopback.
 */
export function advertisedHost(bindHost: string, advertiseHost: string | undefined): string {
  if (advertiseHost !== undefined) return advertiseHost;
  if (bindHost === '0.0.0.0' || bindHost === '') return '127.0.0.1';
  if (bindHost === '::') return '::1';
  return bindHost;
}

/**
 * Graceful close: stop accepting, close idle keep-alive connections (again as each in-flight
 * response finishes), and after `graceMs` cut whatever is still open. Resolves true when everything
 * finished in time.
 */
export function closeHttpServer(server: Server, graceMs: number): Promise<boolean> {
  if (!server.listening) return Promise.resolve(true);
  return new Promise((resolve) => {
    let inTime = true;
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => {
      inTime = false;
      server.closeAllConnections();
    }, graceMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve(inTime);
    });
    server.closeIdleConnections();
  });
}
