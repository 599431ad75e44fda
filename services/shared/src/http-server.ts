import type { Server } from 'node:http';
import { networkInterfaces } from 'node:os';
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
 * This machine's first non-loopback address (IPv4 first), for `ADVERTISE_HOST=auto`: a replica
 * of a scaled compose service, or a network namespace, cannot be told its address in advance.
 */
export function firstExternalAddress(
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): string | undefined {
  const all = Object.values(interfaces).flatMap((list) => list ?? []);
  const usable = all.filter((a) => !a.internal && !(a.family === 'IPv6' && a.scopeid !== 0));
  return (usable.find((a) => a.family === 'IPv4') ?? usable[0])?.address;
}

/**
 * The host others should use: ADVERTISE_HOST when set (`auto`: this machine's first non-loopback
 * address), else the bind host, except that a wildcard bind (0.0.0.0, ::) is not reachable as
 * such and becomes loopback.
 */
export function advertisedHost(bindHost: string, advertiseHost: string | undefined): string {
  if (advertiseHost === 'auto') return firstExternalAddress() ?? '127.0.0.1';
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
