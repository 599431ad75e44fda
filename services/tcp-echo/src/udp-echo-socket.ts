import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP, type AddressInfo } from 'node:net';
import type { Logger } from '@netlab/shared';

export interface UdpEchoOptions {
  logger: Logger;
  /** Larger datagrams are dropped, not echoed. */
  maxDatagram: number;
  /** Bytes that may wait in the send queue; past it, datagrams are dropped (UDP may lose them). */
  maxQueueBytes: number;
}

export interface UdpEchoStats {
  datagramsIn: number;
  echoed: number;
  /** Dropped for exceeding UDP_MAX_DATAGRAM. */
  tooLarge: number;
  /** Dropped because UDP_MAX_QUEUE bytes already waited to be sent. */
  queueFull: number;
  sendErrors: number;
  bytesIn: number;
  bytesOut: number;
}

export interface UdpEchoSocket {
  /** Creates and binds the socket (IPv6 for an IPv6 host; `::` also takes IPv4). */
  bind(port: number, host: string): Promise<AddressInfo>;
  stats(): UdpEchoStats;
  close(): Promise<void>;
}

async function familyOf(host: string): Promise<4 | 6> {
  const literal = isIP(host);
  if (literal === 4 || literal === 6) return literal;
  const { family } = await lookup(host);
  return family === 6 ? 6 : 4;
}

/** UDP echo: each datagram goes back to its sender as it came, or is dropped and counted. */
export function createUdpEchoSocket(opts: UdpEchoOptions): UdpEchoSocket {
  const log = opts.logger.child({ component: 'udp' });
  const stats: UdpEchoStats = {
    datagramsIn: 0,
    echoed: 0,
    tooLarge: 0,
    queueFull: 0,
    sendErrors: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
  let socket: Socket | undefined;
  let lastTooLargeLog = -Infinity;

  const onSent = (err: Error | null, bytes: number): void => {
    if (err) {
      stats.sendErrors += 1;
      log.debug({ err }, 'echo datagram not sent');
      return;
    }
    stats.echoed += 1;
    stats.bytesOut += bytes;
  };

  const onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    stats.datagramsIn += 1;
    stats.bytesIn += msg.length;
    if (msg.length > opts.maxDatagram) {
      stats.tooLarge += 1;
      const now = performance.now();
      if (now - lastTooLargeLog >= 10_000) {
        lastTooLargeLog = now;
        log.info(
          { code: 'TCP_ECHO_DATAGRAM_TOO_LARGE', size: msg.length, max: opts.maxDatagram },
          'dropped a datagram larger than UDP_MAX_DATAGRAM',
        );
      }
      return;
    }
    const s = socket;
    if (s === undefined) return;
    if (s.getSendQueueSize() + msg.length > opts.maxQueueBytes) {
      stats.queueFull += 1;
      return;
    }
    s.send(msg, rinfo.port, rinfo.address, onSent);
  };

  return {
    async bind(port, host) {
      const type = (await familyOf(host)) === 6 ? 'udp6' : 'udp4';
      const s = createSocket({ type });
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => {
          s.close();
          reject(err);
        };
        s.once('error', onError);
        s.bind(port, host, () => {
          s.off('error', onError);
          resolve();
        });
      });
      s.on('error', (err) => log.error({ err }, 'UDP socket error'));
      s.on('message', onMessage);
      socket = s;
      return s.address();
    },
    stats: () => ({ ...stats }),
    close() {
      const s = socket;
      socket = undefined;
      if (s === undefined) return Promise.resolve();
      return new Promise((resolve) => s.close(() => resolve()));
    },
  };
}
