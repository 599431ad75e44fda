import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@netlab/shared/testing';
import { createDatabase, type Database } from '../src/database';
import { splitStatements } from '../src/migrator';
import { DB_DIR } from './harness';

function open(path: string, seed = true): Database {
  return createDatabase({
    target: { kind: 'sqlite', path },
    dbDir: DB_DIR,
    seed,
    poolSize: 1,
    queueLimit: 1,
    connectTimeoutMs: 1000,
    queryTimeoutMs: 1000,
    busyTimeoutMs: 5000,
    retryIntervalMs: 100,
    logger: silentLogger(),
  });
}

const count = (db: Database, table: 'info' | 'focus' | 'schema_migrations') =>
  db.run(async (k) =>
    Number(
      (
        await k
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    ),
  );

describe('migrations and seed (infra/db)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netlab-migrate-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('ships the seed the generator produces (node infra/db/generate-seed.mjs --check)', () => {
    expect(() =>
      execFileSync(process.execPath, [join(DB_DIR, 'generate-seed.mjs'), '--check'], {
        stdio: 'pipe',
      }),
    ).not.toThrow();
  });

  it('splits a migration into statements, dropping comment lines', () => {
    expect(
      splitStatements(
        '-- a comment; with a semicolon\ncreate table a (x int);\n\ncreate index i on a (x);\n',
      ),
    ).toEqual(['create table a (x int)', 'create index i on a (x)']);
  });

  it('migrates and seeds once, even when two instances start on the same file at once', async () => {
    const path = join(dir, 'race.db');
    const a = open(path);
    const b = open(path);
    try {
      const [ra, rb] = await Promise.all([a.whenReady(), b.whenReady()]);
      expect([...ra.applied, ...rb.applied]).toEqual(['0001_create_info_and_focus']);
      expect(ra.seeded + rb.seeded).toBe(240);
      expect(await count(a, 'info')).toBe(240);
      expect(await count(b, 'schema_migrations')).toBe(1);
    } finally {
      await a.close();
      await b.close();
    }
    const again = open(path);
    try {
      expect(await again.whenReady()).toEqual({ applied: [], seeded: 0 });
    } finally {
      await again.close();
    }
  });

  it('leaves the stock table empty with DB_SEED=false', async () => {
    const db = open(join(dir, 'empty.db'), false);
    try {
      expect((await db.whenReady()).seeded).toBe(0);
      expect(await count(db, 'info')).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('removes a stock’s focus row with the stock (ON DELETE CASCADE)', async () => {
    const db = open(join(dir, 'cascade.db'));
    try {
      await db.whenReady();
      await db.run(async (k) => {
        const info = await k.selectFrom('info').select('id').limit(1).executeTakeFirstOrThrow();
        await k
          .insertInto('focus')
          .values({ info_id: info.id, note: '', created_at: 'x', updated_at: 'x' })
          .execute();
        await k.deleteFrom('info').where('id', '=', info.id).execute();
      });
      expect(await count(db, 'focus')).toBe(0);
    } finally {
      await db.close();
    }
  });
});
