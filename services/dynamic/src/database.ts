import { CompiledQuery, Kysely, MysqlDialect, sql, SqliteDialect } from 'kysely';
import type { Logger } from '@netlab/shared';
import type { DatabaseTarget } from './config';
import { isDbUnavailable, toDbError } from './db-errors';
import type { Dialect, StockDatabase } from './db-schema';
import { dynamicError } from './errors';
import { createMysqlPool } from './mysql-pool';
import { prepareSchema, type SchemaReport } from './migrator';
import { openSqlite } from './sqlite-adapter';

export interface DatabaseOptions {
  target: DatabaseTarget;
  /** infra/db: migrations and seed. */
  dbDir: string;
  seed: boolean;
  poolSize: number;
  queueLimit: number;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  busyTimeoutMs: number;
  /** Pause between attempts to prepare the schema while the database is unreachable. */
  retryIntervalMs: number;
  logger: Logger;
}

/**
 * One query layer (Kysely) over SQLite or MySQL/MariaDB. The schema is prepared on start; while
 * the database is unreachable the service still starts, answers 503 DB_UNAVAILABLE, and keeps
 * trying in the background, so that it recovers by itself (docker compose may start MariaDB
 * after us).
 */
export interface Database {
  readonly db: Kysely<StockDatabase>;
  readonly dialect: Dialect;
  /** True once migrations and seed have run. */
  isReady(): boolean;
  /** Resolves when the schema is ready (for tests and start-up logs). */
  whenReady(): Promise<SchemaReport>;
  /** Readiness: the schema is ready and `select 1` answers. */
  check(): Promise<boolean>;
  /** Runs a query function; connectivity failures become DB_UNAVAILABLE. */
  run<T>(fn: (db: Kysely<StockDatabase>) => Promise<T>): Promise<T>;
  /**
   * Runs a SELECT that Kysely compiled once (stock-repository's prepared shapes) with this call's
   * parameters; rows come as arrays in select-list order. SQLite answers from a cached prepared
   * statement without building row objects; MariaDB goes through Kysely's driver. Errors as `run`.
   */
  selectArrays(sqlText: string, parameters: readonly unknown[]): Promise<unknown[][]>;
  close(): Promise<void>;
}

function notReady() {
  return dynamicError(
    'DB_UNAVAILABLE',
    'The database is not ready yet (unreachable, or its schema is being prepared).',
    { headers: { 'retry-after': '1' } },
  );
}

export function createDatabase(opts: DatabaseOptions): Database {
  const log = opts.logger.child({ component: 'db' });
  const { target } = opts;
  const dialect: Dialect = target.kind;
  const sqlite =
    target.kind === 'sqlite'
      ? openSqlite(target.path, { busyTimeoutMs: opts.busyTimeoutMs })
      : undefined;
  const db =
    target.kind === 'sqlite'
      ? new Kysely<StockDatabase>({ dialect: new SqliteDialect({ database: sqlite! }) })
      : new Kysely<StockDatabase>({
          dialect: new MysqlDialect({
            pool: createMysqlPool({
              host: target.host,
              port: target.port,
              user: target.user,
              password: target.password,
              database: target.database,
              connectionLimit: opts.poolSize,
              queueLimit: opts.queueLimit,
              connectTimeoutMs: opts.connectTimeoutMs,
              queryTimeoutMs: opts.queryTimeoutMs,
            }),
          }),
        });
  const where = target.kind === 'sqlite' ? target.path : target.display;

  let ready = false;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let resolveReady!: (report: SchemaReport) => void;
  const readyPromise = new Promise<SchemaReport>((resolve) => (resolveReady = resolve));

  const attempt = async (): Promise<void> => {
    if (closed) return;
    try {
      const report = await prepareSchema(db, dialect, { dbDir: opts.dbDir, seed: opts.seed });
      ready = true;
      log.info({ dialect, database: where, ...report }, 'database schema ready');
      resolveReady(report);
    } catch (err) {
      if (closed) return;
      if (!isDbUnavailable(err)) {
        // A broken migration or seed is a bug, not an outage: say so loudly, keep retrying.
        log.error({ err, database: where }, 'preparing the database schema failed');
      } else {
        log.warn(
          { err: { code: (err as { code?: unknown }).code }, database: where },
          `database unavailable; retrying in ${opts.retryIntervalMs} ms`,
        );
      }
      retryTimer = setTimeout(() => void attempt(), opts.retryIntervalMs);
    }
  };
  void attempt();

  return {
    db,
    dialect,
    isReady: () => ready,
    whenReady: () => readyPromise,
    async check() {
      if (!ready) return false;
      try {
        await sql`select 1`.execute(db);
        return true;
      } catch {
        return false;
      }
    },
    async run(fn) {
      if (!ready) throw notReady();
      try {
        return await fn(db);
      } catch (err) {
        throw toDbError(err);
      }
    },
    async selectArrays(sqlText, parameters) {
      if (!ready) throw notReady();
      try {
        if (sqlite !== undefined) return sqlite.selectArrays(sqlText, parameters);
        const result = await db.executeQuery(CompiledQuery.raw(sqlText, [...parameters]));
        // mysql2 keys a row's fields in select-list order.
        return result.rows.map((row) => Object.values(row as Record<string, unknown>));
      } catch (err) {
        throw toDbError(err);
      }
    },
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      await db.destroy();
    },
  };
}
