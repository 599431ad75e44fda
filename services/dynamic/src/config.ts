import { commonEnv, env } from '@netlab/shared';
import { z } from 'zod';

export const DEFAULT_PORT = 8082;

/** Where the stock database lives: an SQLite file (the default) or a MySQL/MariaDB server. */
export type DatabaseTarget =
  | { readonly kind: 'sqlite'; readonly path: string }
  | {
      readonly kind: 'mysql';
      readonly host: string;
      readonly port: number;
      readonly user: string;
      readonly password: string;
      readonly database: string;
      /** For logs: the URL with the password masked. */
      readonly display: string;
    };

/**
 * Parses `sqlite:PATH` (`sqlite::memory:` for a throw-away database) or
 * `mysql://USER:PASS@HOST:PORT/DB` (`mariadb://` is the same). Undefined when neither.
 */
export function parseDatabaseUrl(raw: string): DatabaseTarget | undefined {
  if (raw.startsWith('sqlite:')) {
    const path = raw.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    return path === '' ? undefined : { kind: 'sqlite', path };
  }
  if (!URL.canParse(raw)) return undefined;
  const url = new URL(raw);
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') return undefined;
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (url.hostname === '' || database === '' || database.includes('/')) return undefined;
  const masked = new URL(raw);
  if (masked.password !== '') masked.password = '***';
  return {
    kind: 'mysql',
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 3306 : Number(url.port),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
    display: masked.toString(),
  };
}

const databaseUrl = () =>
  env.string().transform((raw, ctx): DatabaseTarget => {
    const target = parseDatabaseUrl(raw);
    if (target === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected sqlite:PATH or mysql://USER:PASS@HOST:PORT/DATABASE',
      });
      return z.NEVER;
    }
    return target;
  });

const KiB = 1024;

/**
 * Every variable of the dynamic service; each limit has a default here and a row in README.md.
 * Keys are the variable names (DECISIONS.md 8); `toDynamicConfig` gives the app its own shape.
 */
export const configSchema = z.object({
  ...commonEnv(DEFAULT_PORT),
  DATABASE_URL: databaseUrl().default({ kind: 'sqlite', path: '.lab/stock.db' }),
  /** Where `migrations/` and `seed/` are; main.ts defaults to the repository's infra/db. */
  DB_DIR: env.string().optional(),
  DB_SEED: env.boolean().default(true),
  DB_POOL_SIZE: env.integer(1, 200).default(10),
  DB_QUEUE_LIMIT: env.integer(1, 100_000).default(200),
  DB_CONNECT_TIMEOUT: env.duration().default(2000),
  DB_QUERY_TIMEOUT: env.duration().default(5000),
  DB_BUSY_TIMEOUT: env.duration().default(2000),
  DB_RETRY_INTERVAL: env.duration().default(2000),
  PAGE_SIZE: env.integer(1, 1000).default(20),
  PAGE_SIZE_MAX: env.integer(1, 1000).default(100),
  BODY_LIMIT: env.bytes().default(16 * KiB),
  QUOTES_URL: env.url(['http:', 'https:']).optional(),
  QUOTES_TIMEOUT: env.duration().default(5000),
  QUOTES_MAX_ITEMS: env.integer(1, 100_000).default(2000),
  STREAM_MAX_CLIENTS: env.integer(0, 100_000).default(1000),
  STREAM_HEARTBEAT: env.duration().default(15_000),
  STREAM_MAX_BUFFERED: env.bytes().default(256 * KiB),
  WS_MAX_PAYLOAD: env.bytes().default(4 * KiB),
  SLOW_WORK_MAX: env.duration().default(1000),
});

export type DynamicEnv = z.output<typeof configSchema>;

/** What the app needs, in camelCase; main.ts builds it from the parsed variables. */
export interface DynamicConfig {
  readonly database: DatabaseTarget;
  readonly dbDir: string;
  readonly seed: boolean;
  readonly poolSize: number;
  readonly queueLimit: number;
  readonly connectTimeoutMs: number;
  readonly queryTimeoutMs: number;
  readonly busyTimeoutMs: number;
  readonly retryIntervalMs: number;
  readonly pageSize: number;
  readonly pageSizeMax: number;
  readonly bodyLimitBytes: number;
  readonly quotesUrl: string | undefined;
  readonly quotesTimeoutMs: number;
  readonly quotesMaxItems: number;
  readonly streamMaxClients: number;
  readonly streamHeartbeatMs: number;
  readonly streamMaxBufferedBytes: number;
  readonly wsMaxPayloadBytes: number;
  readonly slowWorkMaxMs: number;
}

export function toDynamicConfig(e: DynamicEnv, defaultDbDir: string): DynamicConfig {
  return {
    database: e.DATABASE_URL,
    dbDir: e.DB_DIR ?? defaultDbDir,
    seed: e.DB_SEED,
    poolSize: e.DB_POOL_SIZE,
    queueLimit: e.DB_QUEUE_LIMIT,
    connectTimeoutMs: e.DB_CONNECT_TIMEOUT,
    queryTimeoutMs: e.DB_QUERY_TIMEOUT,
    busyTimeoutMs: e.DB_BUSY_TIMEOUT,
    retryIntervalMs: e.DB_RETRY_INTERVAL,
    pageSize: Math.min(e.PAGE_SIZE, e.PAGE_SIZE_MAX),
    pageSizeMax: e.PAGE_SIZE_MAX,
    bodyLimitBytes: e.BODY_LIMIT,
    quotesUrl: e.QUOTES_URL,
    quotesTimeoutMs: e.QUOTES_TIMEOUT,
    quotesMaxItems: e.QUOTES_MAX_ITEMS,
    streamMaxClients: e.STREAM_MAX_CLIENTS,
    streamHeartbeatMs: e.STREAM_HEARTBEAT,
    streamMaxBufferedBytes: e.STREAM_MAX_BUFFERED,
    wsMaxPayloadBytes: e.WS_MAX_PAYLOAD,
    slowWorkMaxMs: e.SLOW_WORK_MAX,
  };
}
