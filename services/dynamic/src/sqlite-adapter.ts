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
  /** Statements currently cached (bounded by `statementCacheSize`). */
  cachedStatements(): number;
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

export function createSqliteAdapter(raw: DatabaseSync, cacheSize: number): SqliteAdapter {
  // A Map iterates in insertion order: deleting and re-setting on a hit makes it an LRU.
  const cache = new Map<string, SqliteStatement>();
  return {
    raw,
    cachedStatements: () => cache.size,
    prepare(sql: string): SqliteStatement {
      const hit = cache.get(sql);
      if (hit !== undefined) {
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const stmt = wrap(raw.prepare(sql));
      cache.set(sql, stmt);
      if (cache.size > cacheSize) {
        const oldest = cache.keys().next();
        if (oldest.done !== true) cache.delete(oldest.value);
      }
      return stmt;
    },
    close() {
      cache.clear();
      if (raw.isOpen) raw.close();
    },
  };
}
