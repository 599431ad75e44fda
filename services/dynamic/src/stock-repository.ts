import { sql, type Kysely } from 'kysely';
import { isUniqueViolation } from './db-errors';
import type { StockDatabase } from './db-schema';
import type { Database } from './database';
import { prepareQuery, type PreparedQuery } from './prepared-query';

/** A stock as the API and the pages show it. */
export interface Stock {
  code: string;
  shortName: string;
  changePct: number;
  turnoverPct: number;
  price: number;
  high: number;
  date: string;
  followed: boolean;
}

/** A followed stock: the stock's figures and the user's note. */
export interface FocusItem {
  code: string;
  shortName: string;
  changePct: number;
  turnoverPct: number;
  price: number;
  high: number;
  date: string;
  note: string;
  createdAt: string;
  updatedAt: string;
}

/** One incoming quote: the price, and whatever else the source knows. */
export interface Quote {
  code: string;
  price: number;
  changePct?: number | undefined;
  turnoverPct?: number | undefined;
  high?: number | undefined;
  date?: string | undefined;
}

/** A price change, as published on NATS and pushed to browsers. */
export interface QuoteChange {
  code: string;
  shortName: string;
  price: number;
  previousPrice: number;
  changePct: number;
  turnoverPct: number;
  high: number;
  date: string;
}

export const SORT_FIELDS = [
  'code',
  'shortName',
  'price',
  'changePct',
  'turnoverPct',
  'high',
  'date',
] as const;
export type SortField = (typeof SORT_FIELDS)[number];

// User input picks a key of this table, never a column name: the ORDER BY cannot be injected.
const SORT_COLUMNS = {
  code: 'info.code',
  shortName: 'info.short_name',
  price: 'info.price',
  changePct: 'info.change_pct',
  turnoverPct: 'info.turnover_pct',
  high: 'info.high',
  date: 'info.date',
} as const satisfies Record<SortField, string>;

export interface ListQuery {
  q?: string | undefined;
  limit: number;
  offset: number;
  sort: SortField;
  descending: boolean;
}

/** `%` and `_` in a search are literal: escape them (and the escape character) for LIKE. */
export function likePattern(q: string): string {
  return `%${q.replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

interface InfoRow {
  code: string;
  short_name: string;
  change_pct: number;
  turnover_pct: number;
  price: number;
  high: number;
  date: string;
}

function toStock(r: InfoRow & { focus_id: number | null }): Stock {
  return {
    code: r.code,
    shortName: r.short_name,
    changePct: Number(r.change_pct),
    turnoverPct: Number(r.turnover_pct),
    price: Number(r.price),
    high: Number(r.high),
    date: r.date,
    followed: r.focus_id !== null,
  };
}

/** A row of INFO_COLUMNS + focus id, as an array (Database.selectArrays). */
function stockOfArray(r: unknown[]): Stock {
  return {
    code: r[0] as string,
    shortName: r[1] as string,
    changePct: Number(r[2]),
    turnoverPct: Number(r[3]),
    price: Number(r[4]),
    high: Number(r[5]),
    date: r[6] as string,
    followed: r[7] !== null,
  };
}

/** A row of INFO_COLUMNS + note, created_at, updated_at, as an array. */
function focusItemOfArray(r: unknown[]): FocusItem {
  return {
    code: r[0] as string,
    shortName: r[1] as string,
    changePct: Number(r[2]),
    turnoverPct: Number(r[3]),
    price: Number(r[4]),
    high: Number(r[5]),
    date: r[6] as string,
    note: r[7] as string,
    createdAt: r[8] as string,
    updatedAt: r[9] as string,
  };
}

// Sentinel arguments of the prepared shapes (prepared-query.ts): values no query holds otherwise.
const PATTERN = '\0pattern';
const LIMIT = -9_000_001;
const OFFSET = -9_000_002;

function toFocusItem(r: InfoRow & { note: string; created_at: string; updated_at: string }) {
  return {
    code: r.code,
    shortName: r.short_name,
    changePct: Number(r.change_pct),
    turnoverPct: Number(r.turnover_pct),
    price: Number(r.price),
    high: Number(r.high),
    date: r.date,
    note: r.note,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  } satisfies FocusItem;
}

const INFO_COLUMNS = [
  'info.code',
  'info.short_name',
  'info.change_pct',
  'info.turnover_pct',
  'info.price',
  'info.high',
  'info.date',
] as const;

/** Every query of the stock app, in one place, over either dialect. */
export interface StockRepository {
  listStocks(query: ListQuery): Promise<{ items: Stock[]; total: number }>;
  getStock(code: string): Promise<Stock | undefined>;
  listFocus(): Promise<FocusItem[]>;
  getFocus(code: string): Promise<FocusItem | undefined>;
  /** 'no-stock' when no stock has the code, 'exists' when it is already followed. */
  addFocus(code: string, note: string): Promise<FocusItem | 'no-stock' | 'exists'>;
  updateNote(code: string, note: string): Promise<FocusItem | undefined>;
  removeFocus(code: string): Promise<boolean>;
  /** Applies quotes; returns what changed and which codes are unknown. */
  applyQuotes(
    quotes: readonly Quote[],
  ): Promise<{ changes: QuoteChange[]; unchanged: number; unknown: string[] }>;
  /** Inserts stocks as they are (tests and tools; not exposed over HTTP). */
  insertStocks(stocks: readonly Omit<Stock, 'followed'>[]): Promise<void>;
}

export function createStockRepository(database: Database): StockRepository {
  // `pattern` is a LIKE pattern (likePattern), or undefined for every stock.
  const selectStocks = (db: Kysely<StockDatabase>, pattern: string | undefined) => {
    let query = db.selectFrom('info');
    if (pattern !== undefined) {
      query = query.where(
        sql<boolean>`(${sql.ref('info.code')} like ${pattern} escape '!' or ${sql.ref('info.short_name')} like ${pattern} escape '!')`,
      );
    }
    return query;
  };

  // The hot reads, compiled once per shape: search or not, sort column, direction (28 at most).
  const pages = new Map<string, PreparedQuery<[string, number, number]>>();
  const counts = new Map<boolean, PreparedQuery<[string]>>();
  const pageShape = (query: ListQuery, search: boolean) => {
    const key = `${search ? 'q' : ''}:${query.sort}:${query.descending ? 'desc' : 'asc'}`;
    let shape = pages.get(key);
    if (shape === undefined) {
      const column = SORT_COLUMNS[query.sort];
      const direction = query.descending ? 'desc' : 'asc';
      shape = prepareQuery([PATTERN, LIMIT, OFFSET] as [string, number, number], (p, l, o) =>
        selectStocks(database.db, search ? p : undefined)
          .leftJoin('focus', 'focus.info_id', 'info.id')
          .select([...INFO_COLUMNS, 'focus.id as focus_id'])
          .orderBy(column, direction)
          .orderBy('info.id', direction)
          .limit(l)
          .offset(o),
      );
      pages.set(key, shape);
    }
    return shape;
  };
  const countShape = (search: boolean) => {
    let shape = counts.get(search);
    if (shape === undefined) {
      shape = prepareQuery([PATTERN] as [string], (p) =>
        selectStocks(database.db, search ? p : undefined).select((eb) =>
          eb.fn.countAll<number>().as('n'),
        ),
      );
      counts.set(search, shape);
    }
    return shape;
  };
  const listFocusShape = prepareQuery([] as [], () =>
    database.db
      .selectFrom('focus')
      .innerJoin('info', 'info.id', 'focus.info_id')
      .select([...INFO_COLUMNS, 'focus.note', 'focus.created_at', 'focus.updated_at'])
      .orderBy('focus.id'),
  );

  const getFocus = (code: string) =>
    database.run(async (db) => {
      const row = await db
        .selectFrom('focus')
        .innerJoin('info', 'info.id', 'focus.info_id')
        .select([...INFO_COLUMNS, 'focus.note', 'focus.created_at', 'focus.updated_at'])
        .where('info.code', '=', code)
        .executeTakeFirst();
      return row === undefined ? undefined : toFocusItem(row);
    });

  return {
    listStocks: async (query) => {
      const search = query.q !== undefined && query.q !== '';
      const pattern = search ? likePattern(query.q!) : '';
      const page = pageShape(query, search);
      const count = countShape(search);
      const [rows, total] = await Promise.all([
        database.selectArrays(page.sql, page.parameters([pattern, query.limit, query.offset])),
        database.selectArrays(count.sql, count.parameters([pattern])),
      ]);
      const items = new Array<Stock>(rows.length);
      for (let i = 0; i < rows.length; i++) items[i] = stockOfArray(rows[i]!);
      return { items, total: Number(total[0]![0]) };
    },

    getStock: (code) =>
      database.run(async (db) => {
        const row = await db
          .selectFrom('info')
          .leftJoin('focus', 'focus.info_id', 'info.id')
          .select([...INFO_COLUMNS, 'focus.id as focus_id'])
          .where('info.code', '=', code)
          .executeTakeFirst();
        return row === undefined ? undefined : toStock(row);
      }),

    listFocus: async () => {
      const rows = await database.selectArrays(listFocusShape.sql, listFocusShape.parameters([]));
      return rows.map(focusItemOfArray);
    },

    getFocus,

    addFocus: async (code, note) => {
      const now = new Date().toISOString();
      const outcome = await database.run(async (db) => {
        const stock = await db
          .selectFrom('info')
          .select('id')
          .where('code', '=', code)
          .executeTakeFirst();
        if (stock === undefined) return 'no-stock' as const;
        try {
          await db
            .insertInto('focus')
            .values({ info_id: stock.id, note, created_at: now, updated_at: now })
            .execute();
        } catch (err) {
          // The UNIQUE constraint decides, so two racing requests cannot both win.
          if (isUniqueViolation(err)) return 'exists' as const;
          throw err;
        }
        return 'added' as const;
      });
      if (outcome !== 'added') return outcome;
      const item = await getFocus(code);
      if (item === undefined) return 'no-stock';
      return item;
    },

    updateNote: async (code, note) => {
      const current = await getFocus(code);
      if (current === undefined) return undefined;
      const now = new Date().toISOString();
      const result = await database.run((db) =>
        db
          .updateTable('focus')
          .set({ note, updated_at: now })
          .where('info_id', 'in', db.selectFrom('info').select('id').where('code', '=', code))
          .executeTakeFirst(),
      );
      if (Number(result.numUpdatedRows) === 0) return undefined;
      return { ...current, note, updatedAt: now };
    },

    removeFocus: (code) =>
      database.run(async (db) => {
        const result = await db
          .deleteFrom('focus')
          .where('info_id', 'in', db.selectFrom('info').select('id').where('code', '=', code))
          .executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      }),

    applyQuotes: (quotes) =>
      database.run((db) =>
        db.transaction().execute(async (trx) => {
          const byCode = new Map<string, Quote>();
          for (const quote of quotes) byCode.set(quote.code, quote);
          const codes = [...byCode.keys()];
          const current = new Map<string, InfoRow>();
          for (let i = 0; i < codes.length; i += 500) {
            const rows = await trx
              .selectFrom('info')
              .select(INFO_COLUMNS)
              .where('info.code', 'in', codes.slice(i, i + 500))
              .execute();
            for (const row of rows) current.set(row.code, row);
          }
          const changes: QuoteChange[] = [];
          const unknown: string[] = [];
          let unchanged = 0;
          for (const [code, quote] of byCode) {
            const row = current.get(code);
            if (row === undefined) {
              unknown.push(code);
              continue;
            }
            const price = round2(quote.price);
            const next = {
              price,
              change_pct: round2(quote.changePct ?? Number(row.change_pct)),
              turnover_pct: round2(quote.turnoverPct ?? Number(row.turnover_pct)),
              high: round2(quote.high ?? Math.max(Number(row.high), price)),
              date: quote.date ?? row.date,
            };
            const same =
              next.price === Number(row.price) &&
              next.change_pct === Number(row.change_pct) &&
              next.turnover_pct === Number(row.turnover_pct) &&
              next.high === Number(row.high) &&
              next.date === row.date;
            if (same) {
              unchanged += 1;
              continue;
            }
            await trx.updateTable('info').set(next).where('code', '=', code).execute();
            changes.push({
              code,
              shortName: row.short_name,
              price: next.price,
              previousPrice: Number(row.price),
              changePct: next.change_pct,
              turnoverPct: next.turnover_pct,
              high: next.high,
              date: next.date,
            });
          }
          return { changes, unchanged, unknown };
        }),
      ),

    insertStocks: (stocks) =>
      database.run(async (db) => {
        if (stocks.length === 0) return;
        await db
          .insertInto('info')
          .values(
            stocks.map((s) => ({
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
      }),
  };
}
