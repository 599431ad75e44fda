import { packageVersion, type Logger } from '@netlab/shared';
import type { Registry } from 'prom-client';
import { createAddressPolicy, type AddressPolicy } from './address-policy';
import { createConcurrencyLimiter, type ConcurrencyLimiter } from './concurrency-limiter';
import type { FetcherConfig } from './config';
import { createDispatcherPool } from './dispatcher-pool';
import { createResolver } from './dns-resolver';
import { createFetchEngine, type FetchEngine } from './fetch-engine';
import { createFetcherMetrics, type FetcherMetrics } from './metrics';
import type { SessionStore } from './session-store';

// One directory up from src/ (tests) and dist/ alike.
export const FETCHER_VERSION = packageVersion(__dirname);

export interface FetcherCoreOptions {
  config: FetcherConfig;
  logger: Logger;
  sessions: SessionStore;
  /** Where metrics go (the runtime's registry); none for the CLI. */
  registry?: Registry;
  downloadsActive?: () => number;
  /** A tripwire for tests: see GuardedConnectorOptions.beforeDial. */
  beforeDial?: (address: string, port: number) => void;
}

export interface FetcherCore {
  engine: FetchEngine;
  policy: AddressPolicy;
  limiter: ConcurrencyLimiter;
  metrics: FetcherMetrics | undefined;
  close(): Promise<void>;
}

/** The engine and what it stands on, from the parsed configuration: main.ts, the CLI, tests. */
export function createFetcherCore(opts: FetcherCoreOptions): FetcherCore {
  const c = opts.config;
  const log = opts.logger.child({ component: 'ssrf' });
  const policy = createAddressPolicy(c.FETCH_ALLOW);
  const resolve = createResolver({ servers: c.FETCH_DNS_SERVERS, timeoutMs: c.FETCH_DNS_TIMEOUT });
  const limiter = createConcurrencyLimiter({
    global: c.FETCH_CONCURRENCY,
    perHost: c.FETCH_HOST_CONCURRENCY,
    queue: c.FETCH_QUEUE,
    hostQueue: c.FETCH_HOST_QUEUE,
    retryAfterS: c.FETCH_BUSY_RETRY_AFTER,
  });
  const metrics =
    opts.registry === undefined
      ? undefined
      : createFetcherMetrics(opts.registry, {
          limiter: () => limiter.stats(),
          downloads: opts.downloadsActive ?? (() => 0),
        });
  const dispatchers = createDispatcherPool({
    policy,
    resolve,
    defaultConnectTimeoutMs: c.FETCH_CONNECT_TIMEOUT,
    attemptDelayMs: c.FETCH_HAPPY_EYEBALLS_DELAY,
    connections: c.FETCH_POOL_CONNECTIONS,
    keepAliveTimeoutMs: c.FETCH_KEEPALIVE_TIMEOUT,
    maxAgents: c.FETCH_MAX_AGENTS,
    onDenied: (hostname, address, port, range) => {
      metrics?.denied.inc({ range });
      log.warn({ hostname, address, port, range }, 'destination denied');
    },
    ...(opts.beforeDial === undefined ? {} : { beforeDial: opts.beforeDial }),
  });
  const engine = createFetchEngine({
    dispatchers,
    policy,
    resolve,
    limiter,
    sessions: opts.sessions,
    filesDir: c.FETCH_FILES_DIR,
    userAgent: c.FETCH_USER_AGENT ?? `netlab-fetcher/${FETCHER_VERSION}`,
    logger: opts.logger,
    ...(metrics === undefined ? {} : { metrics }),
    limits: {
      connectTimeoutMs: c.FETCH_CONNECT_TIMEOUT,
      headersTimeoutMs: c.FETCH_HEADERS_TIMEOUT,
      readTimeoutMs: c.FETCH_READ_TIMEOUT,
      totalTimeoutMs: c.FETCH_TOTAL_TIMEOUT,
      streamTimeoutMs: c.FETCH_STREAM_TIMEOUT,
      maxRedirects: c.FETCH_MAX_REDIRECTS,
      maxInlineBytes: c.FETCH_MAX_INLINE_BYTES,
      maxWireBytes: c.FETCH_MAX_WIRE_BYTES,
      maxDecodedBytes: c.FETCH_MAX_DECODED_BYTES,
      maxRetries: c.FETCH_MAX_RETRIES,
      maxRetryWaitMs: c.FETCH_MAX_RETRY_WAIT,
    },
  });
  return { engine, policy, limiter, metrics, close: () => engine.close() };
}
