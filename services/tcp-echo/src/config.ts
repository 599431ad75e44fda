import { z } from 'zod';
import { commonEnv, env, runtimeConfig } from '@netlab/shared';

/** DESIGN.md: tcp-echo serves TCP and UDP on 7001, its health and metrics on 8084. */
export const DEFAULT_PORT = 7001;
export const DEFAULT_HEALTH_PORT = 8084;
/** The largest UDP payload over IPv4 (65,535 − 20 IP − 8 UDP header bytes). */
export const MAX_UDP_PAYLOAD = 65_507;

const sizeUpTo = (max: number) =>
  env.bytes().refine((n) => n >= 1 && n <= max, `expected a size from 1 to ${max} bytes`);

/** Every variable tcp-echo reads; the README's environment table lists the same, with defaults. */
export const configSchema = z
  .object({
    ...commonEnv(DEFAULT_PORT),
    HEALTH_PORT: env.port().default(DEFAULT_HEALTH_PORT),
    MAX_CONNECTIONS: env.integer(1, 1_000_000).default(10_000),
    /** 0 turns it off. */
    IDLE_TIMEOUT: env.duration().default(300_000),
    /** 0 turns it off. */
    WRITE_DEADLINE: env.duration().default(10_000),
    /** Idle time before the first keep-alive probe; 0 turns keep-alive off. */
    TCP_KEEPALIVE: env
      .duration()
      .refine(
        (ms) => ms === 0 || ms >= 1000,
        'expected 0 (off) or at least 1s (probes count whole seconds)',
      )
      .default(60_000),
    TCP_NODELAY: env.boolean().default(true),
    TCP_BUFFER: sizeUpTo(16 * 1024 * 1024).default(16 * 1024),
    UDP_MAX_DATAGRAM: sizeUpTo(MAX_UDP_PAYLOAD).default(8 * 1024),
    UDP_MAX_QUEUE: sizeUpTo(64 * 1024 * 1024).default(1024 * 1024),
    /** 0 publishes no periodic stats events. */
    STATS_INTERVAL: env.duration().default(10_000),
  })
  .transform((e) => ({
    runtime: runtimeConfig(e),
    healthPort: e.HEALTH_PORT,
    maxConnections: e.MAX_CONNECTIONS,
    idleTimeoutMs: e.IDLE_TIMEOUT,
    writeDeadlineMs: e.WRITE_DEADLINE,
    keepAliveMs: e.TCP_KEEPALIVE,
    noDelay: e.TCP_NODELAY,
    bufferBytes: e.TCP_BUFFER,
    udpMaxDatagram: e.UDP_MAX_DATAGRAM,
    udpMaxQueueBytes: e.UDP_MAX_QUEUE,
    statsIntervalMs: e.STATS_INTERVAL,
  }));

export type EchoConfig = Readonly<z.output<typeof configSchema>>;
