import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createSqliteAdapter, openSqlite } from '../src/sqlite-adapter';

describe('the node:sqlite adapter for Kysely', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netlab-sqlite-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('opens a file in WAL mode, creating its directory, with foreign keys on', () => {
    const db = openSqlite(join(dir, 'nested', 'a.db'), { busyTimeoutMs: 100 });
    try {
      expect(db.prepare('pragma journal_mode').all([])).toEqual([{ journal_mode: 'wal' }]);
      expect(db.prepare('pragma foreign_keys').all([])).toEqual([{ foreign_keys: 1 }]);
    } finally {
      db.close();
    }
  });

  it('tells row-returning statements from the others, and binds booleans and dates', () => {
    const db = createSqliteAdapter(new DatabaseSync(':memory:'), 8);
    expect(db.prepare('create table t (a, b)').reader).toBe(false);
    db.prepare('create table t (a, b)').run([]);
    const insert = db.prepare('insert into t (a, b) values (?, ?)');
    expect(insert.reader).toBe(false);
    expect(insert.run([true, new Date(0)])).toEqual({ changes: 1, lastInsertRowid: 1 });
    expect(insert.run([undefined, 'x']).lastInsertRowid).toBe(2);
    const select = db.prepare('select a, b from t order by rowid');
    expect(select.reader).toBe(true);
    expect(select.all([])).toEqual([
      { a: 1, b: '1970-01-01T00:00:00.000Z' },
      { a: null, b: 'x' },
    ]);
    expect([...select.iterate([])]).toHaveLength(2);
    expect(db.prepare('insert into t values (1, 2) returning a').reader).toBe(true);
    db.close();
  });

  it('reuses prepared statements and keeps at most the configured number', () => {
    const db = createSqliteAdapter(new DatabaseSync(':memory:'), 2);
    const a = db.prepare('select 1');
    expect(db.prepare('select 1')).toBe(a);
    db.prepare('select 2');
    db.prepare('select 3');
    expect(db.cachedStatements()).toBe(2);
    expect(db.prepare('select 1')).not.toBe(a);
    db.close();
  });

  it('returns rows as arrays in select-list order from statements of their own, bounded too', () => {
    const db = createSqliteAdapter(new DatabaseSync(':memory:'), 2);
    db.prepare('create table t (a, b)').run([]);
    db.prepare('insert into t values (?, ?), (?, ?)').run([1, 'x', true, null]);
    expect(db.selectArrays('select b, a from t order by rowid', [])).toEqual([
      ['x', 1],
      [null, 1],
    ]);
    expect(db.selectArrays('select a from t where b = ?', ['x'])).toEqual([[1]]);
    // Object rows from the Kysely side are unaffected by the array statements.
    expect(db.prepare('select b, a from t order by rowid').all([])).toEqual([
      { b: 'x', a: 1 },
      { b: null, a: 1 },
    ]);
    for (let i = 0; i < 5; i++) db.selectArrays(`select ${i}`, []);
    expect(db.cachedStatements()).toBeLessThanOrEqual(4);
    db.close();
  });
});
