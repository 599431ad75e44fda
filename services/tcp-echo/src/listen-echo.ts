import type { AddressInfo, Server } from 'node:net';
import { listen } from '@netlab/shared';
import type { UdpEchoSocket } from './udp-echo-socket';

const PORT_ATTEMPTS = 8;

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
}

/**
 * Listens for TCP and binds UDP on the same port number. With port 0 the kernel picks the TCP
 * port, whose UDP twin may be taken by someone else: then it picks again, a few times.
 */
export async function listenEcho(
  tcp: Server,
  udp: UdpEchoSocket,
  port: number,
  host: string,
): Promise<AddressInfo> {
  for (let attempt = 1; ; attempt += 1) {
    const address = await listen(tcp, port, host);
    try {
      await udp.bind(address.port, host);
      return address;
    } catch (err) {
      await closeServer(tcp);
      const taken = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (port !== 0 || !taken || attempt >= PORT_ATTEMPTS) throw err;
    }
  }
}

/** `host:port`, with an IPv6 literal in brackets (`[::1]:7001`). */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
