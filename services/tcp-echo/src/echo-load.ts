import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { isNetlabError } from '@netlab/shared';
import {
  connectTcp,
  tcpRoundTrip,
  udpRoundTrip,
  udpSocketFor,
  type EchoTarget,
} from './echo-client';

export interface LoadOptions {
  target: EchoTarget;
  transport: 'tcp' | 'udp';
  /** Round trips in all. */
  count: number;
  /** Connections (UDP: sockets), each running one round trip at a time (closed loop). */
  concurrency: number;
  /** Bytes per message. */
  size: number;
  timeoutMs: number;
}

export interface LoadSummary {
  transport: 'tcp' | 'udp';
  target: string;
  connections: number;
  size: number;
  requested: number;
  roundTrips: number;
  errors: number;
  /** Errors by code (TCP_ECHO_CLIENT_TIMEOUT, …). */
  errorCodes: Record<string, number>;
  elapsedMs: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The q-quantile of the first n values (nearest rank); sorts them in place. */
function quantiles(values: Float64Array, qs: readonly number[]): number[] {
  if (values.length === 0) return qs.map(() => 0);
  values.sort();
  return qs.map((q) => values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)] ?? 0);
}

/**
 * A quick closed-loop load: `concurrency` connections share `count` round trips, each sending
 * `size` random bytes and waiting for all of them to come back before the next. A TCP
 * connection whose round trip fails is dropped (its stream is out of step) and the others carry
 * on; a lost UDP datagram is counted and the socket carries on.
 */
export async function runEchoLoad(opts: LoadOptions): Promise<LoadSummary> {
  const rtts = new Float64Array(opts.count);
  let recorded = 0;
  let issued = 0;
  const errorCodes: Record<string, number> = {};
  const countError = (err: unknown): void => {
    const code = isNetlabError(err) ? err.code : 'ERROR';
    errorCodes[code] = (errorCodes[code] ?? 0) + 1;
  };
  const next = (): boolean => {
    if (issued >= opts.count) return false;
    issued += 1;
    return true;
  };
  const connections = Math.max(1, Math.min(opts.concurrency, opts.count));

  const tcpWorker = async (socket: Socket): Promise<void> => {
    const payload = randomBytes(opts.size);
    try {
      while (next()) {
        try {
          const trip = await tcpRoundTrip(socket, payload, opts.timeoutMs);
          rtts[recorded++] = trip.rttMs;
        } catch (err) {
          countError(err);
          issued -= 1; // this connection is done for; the others carry its round trip
          return;
        }
      }
    } finally {
      socket.end();
      socket.destroySoon();
    }
  };

  const udpWorker = async (): Promise<void> => {
    const socket = udpSocketFor(opts.target.host);
    const payload = randomBytes(opts.size);
    try {
      for (let seq = 0; next(); seq += 1) {
        // A sequence number in the payload makes a late echo of an earlier datagram a mismatch.
        if (payload.length >= 4) payload.writeUInt32BE(seq >>> 0, 0);
        try {
          const trip = await udpRoundTrip(socket, opts.target, payload, opts.timeoutMs);
          rtts[recorded++] = trip.rttMs;
        } catch (err) {
          countError(err);
        }
      }
    } finally {
      socket.close();
    }
  };

  const started = process.hrtime.bigint();
  if (opts.transport === 'tcp') {
    const sockets = await Promise.allSettled(
      Array.from({ length: connections }, () => connectTcp(opts.target, opts.timeoutMs)),
    );
    const workers: Promise<void>[] = [];
    for (const result of sockets) {
      if (result.status === 'fulfilled') workers.push(tcpWorker(result.value));
      else countError(result.reason);
    }
    await Promise.all(workers);
  } else {
    await Promise.all(Array.from({ length: connections }, udpWorker));
  }
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;

  const done = rtts.subarray(0, recorded);
  const [p50Ms = 0, p99Ms = 0, maxMs = 0] = quantiles(done, [0.5, 0.99, 1]);
  const errors = Object.values(errorCodes).reduce((a, b) => a + b, 0);
  return {
    transport: opts.transport,
    target: `${opts.target.host}:${opts.target.port}`,
    connections,
    size: opts.size,
    requested: opts.count,
    roundTrips: recorded,
    errors,
    errorCodes,
    elapsedMs,
    perSecond: elapsedMs > 0 ? (recorded * 1000) / elapsedMs : 0,
    p50Ms,
    p99Ms,
    maxMs,
  };
}
