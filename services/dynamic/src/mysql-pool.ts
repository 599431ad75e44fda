import { createPool, type Pool, type PoolConnection, type QueryOptions } from 'mysql2';
import type { MysqlPool, MysqlPoolConnection } from 'kysely';

export interface MysqlPoolOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  connectionLimit: number;
  /** Requests waiting for a connection beyond this fail at once ("Queue limit reached."). */
  queueLimit: number;
  /** Bounds both a new connection's handshake and the wait for a pooled one. */
  connectTimeoutMs: number;
  /** Every query is given this timeout, so that a hung server cannot hang a request. */
  queryTimeoutMs: number;
}

export interface TimedMysqlPool extends MysqlPool {
  readonly pool: Pool;
}

const TIMED = Symbol('netlab.timedQuery');

/** An error for a connection that could not be had within the timeout. */
function acquireTimeout(ms: number): Error {
  return Object.assign(new Error(`no database connection within ${ms} ms`), {
    code: 'POOL_ACQUIRE_TIMEOUT',
  });
}

/**
 * A mysql2 pool as Kysely's `MysqlDialect` wants it, with the two timeouts mysql2 lacks: a query
 * timeout on every query Kysely sends, and a bound on the wait for a free connection.
 */
export function createMysqlPool(opts: MysqlPoolOptions): TimedMysqlPool {
  const pool = createPool({
    host: opts.host,
    port: opts.port,
    user: opts.user,
    password: opts.password,
    database: opts.database,
    connectionLimit: opts.connectionLimit,
    queueLimit: opts.queueLimit,
    waitForConnections: true,
    connectTimeout: opts.connectTimeoutMs,
    charset: 'utf8mb4',
    // DECIMAL as numbers and DATE as 'YYYY-MM-DD', the way SQLite gives them back.
    decimalNumbers: true,
    dateStrings: true,
    enableKeepAlive: true,
    maxIdle: opts.connectionLimit,
    idleTimeout: 60_000,
  });

  const withQueryTimeout = (conn: PoolConnection): MysqlPoolConnection => {
    const marked = conn as PoolConnection & { [TIMED]?: true };
    if (marked[TIMED] !== true) {
      const query = conn.query.bind(conn) as (
        options: QueryOptions,
        values: unknown,
        cb?: (err: unknown, result: unknown) => void,
      ) => unknown;
      Object.defineProperty(conn, 'query', {
        configurable: true,
        value: (
          sql: string | QueryOptions,
          values: unknown,
          cb?: (err: unknown, result: unknown) => void,
        ) =>
          query(
            typeof sql === 'string' ? { sql, timeout: opts.queryTimeoutMs } : sql,
            values,
            cb === undefined
              ? undefined
              : (err, result) => {
                  // mysql2 reports a query timeout but keeps the connection busy with the hung
                  // command: every later query on it would queue behind it forever. Drop it.
                  if ((err as { code?: unknown } | null)?.code === 'PROTOCOL_SEQUENCE_TIMEOUT') {
                    conn.destroy();
                  }
                  cb(err, result);
                },
          ),
      });
      marked[TIMED] = true;
    }
    return conn;
  };

  return {
    pool,
    getConnection(callback) {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        callback(acquireTimeout(opts.connectTimeoutMs), undefined as never);
      }, opts.connectTimeoutMs);
      pool.getConnection((err, conn) => {
        if (settled) {
          // Too late: the caller has its error already; hand the connection back.
          if (err === null) conn.release();
          return;
        }
        settled = true;
        clearTimeout(timer);
        if (err !== null) callback(err, undefined as never);
        else callback(null, withQueryTimeout(conn));
      });
    },
    end(callback) {
      pool.end(callback);
    },
  };
}
