import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql, type Kysely, type Transaction } from 'kysely';
import { z } from 'zod';
import type { Dialect, StockDatabase } from './db-schema';

/**
 * Applies infra/db's migrations (`migrations/<dialect>/NNNN_name.sql`, in name order, each once,
 * recorded in `schema_migrations`) and loads `seed/stocks.json` into an empty `info` table.
 * Several instances may start at once on the same database, so all of it runs under a lock:
 * SQLite's `BEGIN IMMEDIATE` (DDL is transactional there), MariaDB's `GET_LOCK` (where DDL commits
 * on its own, so a migration that fails halfway must be repaired by hand: keep them small).
 */
export interface SchemaReport {
  applied: string[];
  seeded: number;
}

const LOCK_NAME = 'netlab_stock_schema';
const LOCK_WAIT_S = 30;
const SEED_BATCH = 50;

const seedStock = z.strictObject({
  code: z.string().min(1).max(10),
  shortName: z.string().min(1).max(60),
  changePct: z.number(),
  turnoverPct: z.number(),
  price: z.number().nonnegative(),
  high: z.number().nonnegative(),
  date: z.iso.date(),
});
const seedFile = z.array(seedStock);

/** Statements of a migration file: `--` comment lines dropped, split at a `;` ending a line. */
export function splitStatements(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

interface Migration {
  version: string;
  statements: string[];
}
type SeedStock = z.output<typeof seedStock>;

async function readMigrations(dir: string): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  return Promise.all(
    names.map(async (n) => ({
      version: n.replace(/\.sql$/, ''),
      statements: splitStatements(await readFile(join(dir, n), 'utf8')),
    })),
  );
}

async function readSeed(dbDir: string): Promise<SeedStock[]> {
  return seedFile.parse(JSON.parse(await readFile(join(dbDir, 'seed', 'stocks.json'), 'utf8')));
}

type Conn = Kysely<StockDatabase> | Transaction<StockDatabase>;

async function applyMigrations(conn: Conn, migrations: readonly Migration[]): Promise<string[]> {
  await sql`create table if not exists schema_migrations (
    version varchar(100) not null primary key,
    applied_at varchar(24) not null
  )`.execute(conn);
  const done = new Set(
    (await conn.selectFrom('schema_migrations').select('version').execute()).map((r) => r.version),
  );
  const applied: string[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    for (const statement of m.statements) await sql.raw(statement).execute(conn);
    await conn
      .insertInto('schema_migrations')
      .values({ version: m.version, applied_at: new Date().toISOString() })
      .execute();
    applied.push(m.version);
  }
  return applied;
}

async function seedIfEmpty(conn: Conn, stocks: readonly SeedStock[]): Promise<number> {
  const row = await conn
    .selectFrom('info')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  if (Number(row.n) > 0) return 0;
  for (let i = 0; i < stocks.length; i += SEED_BATCH) {
    await conn
      .insertInto('info')
      .values(
        stocks.slice(i, i + SEED_BATCH).map((s) => ({
          code: s.code,
          short_name: s.shortName,
          change_pct: s.changePct,
          turnover_pct: s.turnoverPct,
          price: s.price,
          high: s.high,
          date: s.date,
        })),
      )
      .execute();
  }
  return stocks.length;
}

export async function prepareSchema(
  db: Kysely<StockDatabase>,
  dialect: Dialect,
  opts: { dbDir: string; seed: boolean },
): Promise<SchemaReport> {
  // Files are read before the lock is taken: a synchronous SQLite writer that waits for our lock
  // blocks its whole event loop, so the lock is held for database work only.
  const migrations = await readMigrations(join(opts.dbDir, 'migrations', dialect));
  const seed = opts.seed ? await readSeed(opts.dbDir) : [];
  return db.connection().execute(async (conn) => {
    if (dialect === 'sqlite') {
      await sql`begin immediate`.execute(conn);
      try {
        const applied = await applyMigrations(conn, migrations);
        const seeded = opts.seed ? await seedIfEmpty(conn, seed) : 0;
        await sql`commit`.execute(conn);
        return { applied, seeded };
      } catch (err) {
        await sql`rollback`.execute(conn).catch(() => undefined);
        throw err;
      }
    }
    const lock = await sql<{
      ok: number | null;
    }>`select get_lock(${LOCK_NAME}, ${LOCK_WAIT_S}) as ok`.execute(conn);
    if (lock.rows[0]?.ok !== 1) throw new Error(`could not take the ${LOCK_NAME} lock`);
    try {
      const applied = await applyMigrations(conn, migrations);
      const seeded = opts.seed
        ? await conn.transaction().execute((trx) => seedIfEmpty(trx, seed))
        : 0;
      return { applied, seeded };
    } finally {
      await sql`select release_lock(${LOCK_NAME})`.execute(conn).catch(() => undefined);
    }
  });
}
