import { DatabaseSync } from 'node:sqlite';
import { Kysely, sql, SqliteDialect } from 'kysely';
import { prepareQuery } from '../src/prepared-query';
import { createSqliteAdapter } from '../src/sqlite-adapter';

interface Db {
  t: { id: number; name: string };
}

describe('prepareQuery', () => {
  const adapter = createSqliteAdapter(new DatabaseSync(':memory:'), 8);
  const db = new Kysely<Db>({ dialect: new SqliteDialect({ database: adapter }) });
  beforeAll(() => {
    adapter.raw.exec(
      "create table t (id integer primary key, name text); insert into t (name) values ('a'), ('b'), ('c'), ('d')",
    );
  });
  afterAll(() => db.destroy());

  const NAME = '\0name';
  const LIMIT = -9_000_001;

  it('compiles once and binds each call its own values, in parameter order, keeping constants', () => {
    const shape = prepareQuery([NAME, LIMIT] as [string, number], (name, limit) =>
      db
        .selectFrom('t')
        .select(['id', 'name'])
        .where('name', '>=', name)
        .where('id', '>', 0)
        .orderBy('id')
        .limit(limit),
    );
    expect(shape.sql).toBe(
      'select "id", "name" from "t" where "name" >= ? and "id" > ? order by "id" limit ?',
    );
    expect(shape.parameters(['b', 2])).toEqual(['b', 0, 2]);
    expect(adapter.selectArrays(shape.sql, shape.parameters(['b', 2]))).toEqual([
      [2, 'b'],
      [3, 'c'],
    ]);
    // A second call is not stuck with the first call's values.
    expect(adapter.selectArrays(shape.sql, shape.parameters(['c', 10]))).toEqual([
      [3, 'c'],
      [4, 'd'],
    ]);
  });

  it('lets a shape leave an argument unused, and binds one argument used twice in both places', () => {
    const unused = prepareQuery([NAME, LIMIT] as [string, number], (_name, limit) =>
      db.selectFrom('t').select('id').limit(limit),
    );
    expect(unused.parameters(['x', 1])).toEqual([1]);
    const twice = prepareQuery([NAME] as [string], (name) =>
      db
        .selectFrom('t')
        .select('id')
        .where(sql<boolean>`(name = ${name} or name = upper(${name}))`),
    );
    expect(twice.parameters(['c'])).toEqual(['c', 'c']);
    expect(adapter.selectArrays(twice.sql, twice.parameters(['c']))).toEqual([[3]]);
  });

  it('refuses a shape that writes an argument into the SQL instead of binding it', () => {
    expect(() =>
      prepareQuery([NAME] as [string], (name) =>
        db.selectFrom('t').select('id').where('name', '=', sql.lit(name)),
      ),
    ).toThrow(/inlined, not bound/);
  });
});
