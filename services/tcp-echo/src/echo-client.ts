import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP, connect, type Socket } from 'node:net';
import { TcpEchoError } from './errors';

export interface EchoTarget {
  host: string;
  port: number;
}

export interface RoundTrip {
  reply: Buffer;
  /** From the first byte sent to the last byte of the echo received. */
  rttMs: number;
  /** TCP only: how long the connection took to open. */
  connectMs?: number;
}

const REJECTED_PREFIX = Buffer.from('ERR TCP_ECHO_TOO_MANY_CONNECTIONS');

function elapsedMs(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6;
}

/** Opens a TCP connection, failing with TCP_ECHO_CLIENT_CONNECT_FAILED (or on timeout). */
export function connectTcp(target: EchoTarget, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port, noDelay: true });
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(
        err instanceof TcpEchoError
          ? err
          : new TcpEchoError(
              'TCP_ECHO_CLIENT_CONNECT_FAILED',
              `Could not connect to ${target.host}:${target.port}: ${err.message}`,
              { cause: err },
            ),
      );
    };
    const timer = setTimeout(
      () =>
        fail(
          new TcpEchoError(
            'TCP_ECHO_CLIENT_TIMEOUT',
            `No connection to ${target.host}:${target.port} within ${timeoutMs} ms.`,
          ),
        ),
      timeoutMs,
    );
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      // Between round trips nobody listens; a late reset must not crash the client.
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}

/**
 * Sends `payload` and reads until as many bytes came back (a TCP echo may arrive in any number of
 * chunks), then checks they are the same bytes. A refused connection's error line becomes
 * TCP_ECHO_TOO_MANY_CONNECTIONS.
 */
export function tcpRoundTrip(
  socket: Socket,
  payload: Buffer,
  timeoutMs: number,
): Promise<RoundTrip> {
  return new Promise((resolve, reject) => {
    const reply = Buffer.allocUnsafe(payload.length);
    let received = 0;
    const started = process.hrtime.bigint();
    const done = (err: Error | undefined): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      if (err) reject(err);
      else resolve({ reply, rttMs: elapsedMs(started) });
    };
    const onData = (chunk: Buffer): void => {
      if (received === 0 && isRejection(chunk) && !isRejection(payload)) {
        const line = chunk.toString('utf8').split('\n', 1)[0] ?? '';
        done(new TcpEchoError('TCP_ECHO_TOO_MANY_CONNECTIONS', `The server refused: ${line}`));
        return;
      }
      const take = Math.min(chunk.length, payload.length - received);
      chunk.copy(reply, received, 0, take);
      received += take;
      if (received < payload.length && take === chunk.length) return;
      if (take < chunk.length || !reply.equals(payload)) {
        done(
          new TcpEchoError(
            'TCP_ECHO_CLIENT_MISMATCH',
            `The echo differs from the ${payload.length} bytes sent (first difference at byte ${firstDifference(reply, payload)}).`,
          ),
        );
      } else done(undefined);
    };
    const onEnd = (): void =>
      done(
        new TcpEchoError(
          'TCP_ECHO_CLIENT_CLOSED',
          `The server closed the connection after ${received} of ${payload.length} bytes.`,
        ),
      );
    const onError = (err: Error): void =>
      done(
        new TcpEchoError('TCP_ECHO_CLIENT_CLOSED', `The connection failed: ${err.message}`, {
          cause: err,
        }),
      );
    const timer = setTimeout(
      () =>
        done(
          new TcpEchoError(
            'TCP_ECHO_CLIENT_TIMEOUT',
            `Only ${received} of ${payload.length} bytes came back within ${timeoutMs} ms.`,
          ),
        ),
      timeoutMs,
    );
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
    socket.write(payload);
  });
}

function isRejection(bytes: Buffer): boolean {
  return bytes.subarray(0, REJECTED_PREFIX.length).equals(REJECTED_PREFIX);
}

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) if (a[i] !== b[i]) return i;
  return n;
}

/** One TCP round trip on a fresh connection, closed afterwards. */
export async function tcpEchoOnce(
  target: EchoTarget,
  payload: Buffer,
  timeoutMs: number,
): Promise<RoundTrip> {
  const started = process.hrtime.bigint();
  const socket = await connectTcp(target, timeoutMs);
  const connectMs = elapsedMs(started);
  try {
    const trip = await tcpRoundTrip(socket, payload, timeoutMs);
    return { ...trip, connectMs };
  } finally {
    socket.end();
    socket.destroySoon();
  }
}

/** A UDP socket of the family of `host` (an IP literal; hostnames resolve as IPv4). */
export function udpSocketFor(host: string): UdpSocket {
  return createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
}

/** Sends one datagram and waits for the datagram that comes back from the server. */
export function udpRoundTrip(
  socket: UdpSocket,
  target: EchoTarget,
  payload: Buffer,
  timeoutMs: number,
): Promise<RoundTrip> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const done = (err: Error | undefined, reply?: Buffer): void => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      socket.off('error', onError);
      if (err) reject(err);
      else resolve({ reply: reply ?? Buffer.alloc(0), rttMs: elapsedMs(started) });
    };
    const onMessage = (msg: Buffer): void => {
      if (msg.equals(payload)) done(undefined, msg);
      else
        done(
          new TcpEchoError(
            'TCP_ECHO_CLIENT_MISMATCH',
            `The datagram that came back (${msg.length} bytes) differs from the ${payload.length} bytes sent.`,
          ),
        );
    };
    const onError = (err: Error): void =>
      done(
        new TcpEchoError('TCP_ECHO_CLIENT_CONNECT_FAILED', `UDP send failed: ${err.message}`, {
          cause: err,
        }),
      );
    const timer = setTimeout(
      () =>
        done(
          new TcpEchoError(
            'TCP_ECHO_CLIENT_TIMEOUT',
            `No datagram came back within ${timeoutMs} ms (UDP may drop it, or the server drops datagrams over UDP_MAX_DATAGRAM).`,
          ),
        ),
      timeoutMs,
    );
    socket.on('message', onMessage);
    socket.once('error', onError);
    socket.send(payload, target.port, target.host);
  });
}

/** One UDP round trip from a fresh socket, closed afterwards. */
export async function udpEchoOnce(
  target: EchoTarget,
  payload: Buffer,
  timeoutMs: number,
): Promise<RoundTrip> {
  const socket = udpSocketFor(target.host);
  try {
    return await udpRoundTrip(socket, target, payload, timeoutMs);
  } finally {
    socket.close();
  }
}
