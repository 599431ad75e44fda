import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commonEnv, env } from '@netlab/shared';
import { z } from 'zod';
import { parseAllowList } from './address-policy';

export const FETCHER_PORT = 8083;
/** The KV bucket of sessions (named cookie jars), shared by every instance. */
export const SESSION_BUCKET = 'netlab_fetcher_sessions';

/** FETCH_ALLOW: comma-separated addresses, ranges and host names, each optionally :PORT[-PORT]. */
const allowList = () =>
  z.string().transform((raw, ctx) => {
    try {
      return parseAllowList(raw);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

const dnsServers = () =>
  z.string().transform((raw, ctx) => {
    const servers = raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const ok = servers.every((s) =>
      /^(\[[0-9a-fA-F:.]+\]|[0-9.]+)(:\d{1,5})?$|^[0-9a-fA-F:]+$/.test(s),
    );
    if (!ok || servers.length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected IP[:PORT] entries such as 127.0.0.1:53,[::1]:53',
      });
      return z.NEVER;
    }
    return servers;
  });

/**
 * Every variable of the fetcher, with its default; README.md's environment table lists the same.
 * Durations take `250ms`, `5s`, `2m`; sizes `64KiB`, `1MiB`, `4GiB`.
 */
export const configSchema = z.object({
  ...commonEnv(FETCHER_PORT),
  FETCH_ALLOW: allowList().default([]),
  FETCH_DNS_SERVERS: dnsServers().optional(),
  FETCH_DNS_TIMEOUT: env.duration().default(5_000),
  FETCH_CONNECT_TIMEOUT: env.duration().default(10_000),
  // RFC 8305 §5: recommended 250 ms, never below 10 ms; 0 turns racing off.
  FETCH_HAPPY_EYEBALLS_DELAY: env
    .duration()
    .refine(
      (ms) => ms === 0 || (ms >= 10 && ms <= 2000),
      'expected 0 (off) or 10ms-2s (RFC 8305 §5: the connection attempt delay)',
    )
    .default(250),
  FETCH_HEADERS_TIMEOUT: env.duration().default(30_000),
  FETCH_READ_TIMEOUT: env.duration().default(30_000),
  FETCH_TOTAL_TIMEOUT: env.duration().default(60_000),
  FETCH_STREAM_TIMEOUT: env.duration().default(3_600_000),
  FETCH_MAX_REDIRECTS: env.integer(0, 100).default(30),
  FETCH_MAX_INLINE_BYTES: env.bytes().default(8 * 1024 ** 2),
  // A reply must fit a NATS message (1 MiB max_payload) with its envelope and headers.
  FETCH_NATS_MAX_BODY: env
    .bytes()
    .refine(
      (n) => n <= 768 * 1024,
      'expected at most 768KiB: a reply must fit in a NATS message (1 MiB)',
    )
    .default(512 * 1024),
  FETCH_MAX_WIRE_BYTES: env.bytes().default(8 * 1024 ** 3),
  FETCH_MAX_DECODED_BYTES: env.bytes().default(8 * 1024 ** 3),
  FETCH_MAX_REQUEST_BYTES: env.bytes().default(16 * 1024 ** 2),
  FETCH_FAST_PATH: env.boolean().default(true),
  FETCH_CONCURRENCY: env.integer(1, 100_000).default(256),
  FETCH_HOST_CONCURRENCY: env.integer(1, 100_000).default(64),
  FETCH_QUEUE: env.integer(0, 1_000_000).default(1024),
  FETCH_HOST_QUEUE: env.integer(0, 1_000_000).default(256),
  FETCH_BUSY_RETRY_AFTER: env.integer(1, 3600).default(1),
  FETCH_MAX_RETRIES: env.integer(0, 100).default(5),
  FETCH_MAX_RETRY_WAIT: env.duration().default(30_000),
  FETCH_POOL_CONNECTIONS: env.integer(1, 10_000).default(128),
  FETCH_KEEPALIVE_TIMEOUT: env.duration().default(4_000),
  FETCH_MAX_AGENTS: env.integer(1, 1000).default(16),
  FETCH_FILES_DIR: env.string().optional(),
  FETCH_DOWNLOADS_DIR: env.string().default(join(tmpdir(), 'netlab-fetcher-downloads')),
  FETCH_MAX_DOWNLOADS: env.integer(1, 10_000).default(32),
  FETCH_DOWNLOAD_HISTORY: env.integer(1, 1_000_000).default(1000),
  FETCH_PROGRESS_INTERVAL: env.duration().default(500),
  FETCH_SESSION_BUCKET: env.string().default(SESSION_BUCKET),
  FETCH_SESSION_TTL: env.duration().default(24 * 3_600_000),
  FETCH_SESSION_MAX_BYTES: env.bytes().default(256 * 1024),
  FETCH_USER_AGENT: env.string().optional(),
});

export type FetcherConfig = z.output<typeof configSchema>;
