import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Node 24's built-in `node:sqlite` behind Kysely's `SqliteDialect` (which was written for
 * better-sqlite3, a native build we do not allow). Prepared statements are cached by SQL text:
 * Kysely compiles the same query shape to the same SQL, so the hot paths never re-prepare.
 */
export interface SqliteAdapter extends SqliteDatabase {
  readonly raw: DatabaseSync;
  /** Statements currently cached (bounded by `statementCacheSize`), both kinds together. */
  cachedStatements(): number;
  /**
   * Runs a SELECT and returns its rows as arrays in select-list order. For the hot reads: building
   * an object per row is most of what node:sqlite spends on a page of stocks, and going around
   * Kysely's driver saves its connection mutex and result plumbing.
   */
  selectArrays(sql: string, parameters: ReadonlyArray<unknown>): unknown[][];
}

export interface OpenSqliteOptions {
  /** How long a writer waits for another connection's lock before SQLITE_BUSY. */
  busyTimeoutMs: number;
  statementCacheSize?: number;
}

/** Opens (creating its directory) a database file in WAL mode, foreign keys on. */
export function openSqlite(path: string, opts: OpenSqliteOptions): SqliteAdapter {
  const inMemory = path === ':memory:';
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });
  const raw = new DatabaseSync(path, {
    timeout: opts.busyTimeoutMs,
    enableForeignKeyConstraints: true,
  });
  // WAL lets readers of other instances (netlab scale dynamic 3) run while one writes.
  if (!inMemory) raw.exec('PRAGMA journal_mode = WAL');
  raw.exec('PRAGMA synchronous = NORMAL');
  return createSqliteAdapter(raw, opts.statementCacheSize ?? 256);
}

function toSqliteValue(value: unknown): SQLInputValue {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.toISOString();
  return value as SQLInputValue;
}

function bind(parameters: ReadonlyArray<unknown>): SQLInputValue[] {
  return parameters.map(toSqliteValue);
}

function wrap(stmt: StatementSync): SqliteStatement {
  // StatementSync has no `reader`: a statement that yields columns returns rows.
  const reader = stmt.columns().length > 0;
  return {
    reader,
    all: (parameters) => stmt.all(...bind(parameters)),
    run: (parameters) => {
      const r = stmt.run(...bind(parameters));
      return { changes: r.changes, lastInsertRowid: r.lastInsertRowid };
    },
    iterate: (parameters) => stmt.iterate(...bind(parameters)) as IterableIterator<unknown>,
  };
}

/** A bounded map from SQL text to a statement; a Map iterates in insertion order, so deleting and
 * re-setting on a hit makes it an LRU. */
function statementCache<T>(size: number, create: (sql: string) => T) {
  const cache = new Map<string, T>();
  return {
    cache,
    get(sql: string): T {
      const hit = cache.get(sql);
      if (hit !== undefined) {
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const stmt = create(sql);
      cache.set(sql, stmt);
      if (cache.size > size) {
        const oldest = cache.keys().next();
        if (oldest.done !== true) cache.delete(oldest.value);
      }
      return stmt;
    },
  };
}

export function createSqliteAdapter(raw: DatabaseSync, cacheSize: number): SqliteAdapter {
  const statements = statementCache(cacheSize, (sql) => wrap(raw.prepare(sql)));
  const arrayStatements = statementCache(cacheSize, (sql) => {
    const stmt = raw.prepare(sql);
    stmt.setReturnArrays(true);
    return stmt;
  });
  return {
    raw,
    cachedStatements: () => statements.cache.size + arrayStatements.cache.size,
    prepare: (sql) => statements.get(sql),
    selectArrays(sql, parameters) {
      const stmt = arrayStatements.get(sql);
      // Typed as objects; setReturnArrays(true) makes them arrays.
      return (parameters.length === 0
        ? stmt.all()
        : stmt.all(...bind(parameters))) as unknown as unknown[][];
    },
    close() {
      statements.cache.clear();
      arrayStatements.cache.clear();
      if (raw.isOpen) raw.close();
    },
  };
}
