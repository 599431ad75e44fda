import { z } from 'zod';
import { SORT_FIELDS } from './stock-repository';

/**
 * The schemas that validate the REST API and generate its OpenAPI document (openapi.ts): one
 * source, so the document cannot drift from what the server accepts. Named schemas carry
 * `.meta({ id })` and become `components/schemas`.
 */

export const NOTE_MAX = 200;
export const SEARCH_MAX = 100;
const CODE_PATTERN = /^[0-9A-Za-z.]{1,10}$/;

export const stockCode = z
  .string()
  .regex(CODE_PATTERN, 'expected 1 to 10 letters, digits or dots')
  .meta({ description: 'The stock code, e.g. `600519`.', example: '600483' });

export function isStockCode(value: string): boolean {
  return CODE_PATTERN.test(value);
}

const isoDate = z.iso.date().meta({ description: 'Trading day, YYYY-MM-DD.' });

export const stockSchema = z
  .object({
    code: stockCode,
    shortName: z.string().meta({ description: 'Short name.' }),
    changePct: z.number().meta({ description: 'Change on the day, in percent.' }),
    turnoverPct: z.number().meta({ description: 'Turnover, in percent of the float.' }),
    price: z.number().meta({ description: 'Last price.' }),
    high: z.number().meta({ description: 'Previous high.' }),
    date: isoDate,
    followed: z.boolean().meta({ description: 'Whether the stock is in the focus list.' }),
  })
  .meta({ id: 'Stock' });

export const stockPageSchema = z
  .object({
    items: z.array(stockSchema),
    total: z.number().int().nonnegative().meta({ description: 'Stocks matching the search.' }),
    limit: z.number().int(),
    offset: z.number().int(),
  })
  .meta({ id: 'StockPage' });

export const focusItemSchema = z
  .object({
    code: stockCode,
    shortName: z.string(),
    changePct: z.number(),
    turnoverPct: z.number(),
    price: z.number(),
    high: z.number(),
    date: isoDate,
    note: z.string().max(NOTE_MAX),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'FocusItem' });

export const focusListSchema = z
  .object({ items: z.array(focusItemSchema), total: z.number().int().nonnegative() })
  .meta({ id: 'FocusList' });

const note = z
  .string()
  .max(NOTE_MAX)
  .meta({ description: `A free-text note, at most ${NOTE_MAX} characters.` });

export const focusCreateSchema = z
  .strictObject({ code: stockCode, note: note.default('') })
  .meta({ id: 'FocusCreate' });

export const focusUpdateSchema = z.strictObject({ note }).meta({ id: 'FocusUpdate' });

export const quoteChangeSchema = z
  .object({
    code: stockCode,
    shortName: z.string(),
    price: z.number(),
    previousPrice: z.number(),
    changePct: z.number(),
    turnoverPct: z.number(),
    high: z.number(),
    date: isoDate,
  })
  .meta({ id: 'QuoteChange' });

export const refreshResultSchema = z
  .object({
    source: z.string().meta({ description: 'The quotes URL that was fetched.' }),
    received: z.number().int().meta({ description: 'Quotes in the document.' }),
    updated: z.number().int(),
    unchanged: z.number().int(),
    unknown: z.array(z.string()).meta({ description: 'Codes of quotes for no known stock.' }),
    changes: z.array(quoteChangeSchema),
  })
  .meta({ id: 'RefreshResult' });

/** One quote of a quotes document (what QUOTES_URL serves). */
export const quoteSchema = z.object({
  code: stockCode,
  price: z.number().nonnegative().max(1e9),
  changePct: z.number().min(-1000).max(1000).optional(),
  turnoverPct: z.number().min(0).max(1000).optional(),
  high: z.number().nonnegative().max(1e9).optional(),
  date: z.iso.date().optional(),
});

export const quotesFeedSchema = z.object({ quotes: z.array(quoteSchema) }).meta({
  id: 'QuotesFeed',
  description: 'A quotes document, as QUOTES_URL serves it (a bare array is accepted too).',
});

export const slowResultSchema = z
  .object({ mode: z.enum(['blocking', 'async']), ms: z.number().int() })
  .meta({ id: 'SlowResult' });

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    code: z.string().meta({ description: 'Stable error code (README, "Error codes").' }),
    retryable: z.boolean(),
    errors: z
      .array(
        z.object({
          in: z.enum(['path', 'query', 'body']),
          field: z.string(),
          pointer: z.string().optional(),
          detail: z.string(),
        }),
      )
      .optional()
      .meta({ description: 'Each bad field, for 400 and 422.' }),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details.' });

export const codeParams = z.object({ code: stockCode });

const SORT_VALUES = [...SORT_FIELDS, ...SORT_FIELDS.map((f) => `-${f}` as const)] as const;

/** Query schemas depend on the configured page sizes. */
export function listQuerySchema(pageSize: number, pageSizeMax: number) {
  return z.object({
    q: z
      .string()
      .max(SEARCH_MAX)
      .optional()
      .meta({ description: 'Search in code and name (substring, case-insensitive).' }),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(pageSizeMax)
      .default(pageSize)
      .meta({ description: `Page size, 1 to ${pageSizeMax}.` }),
    offset: z.coerce
      .number()
      .int()
      .min(0)
      .max(1_000_000_000)
      .default(0)
      .meta({ description: 'Stocks to skip.' }),
    sort: z
      .enum(SORT_VALUES)
      .default('code')
      .meta({ description: 'Sort field; a leading `-` sorts descending.' }),
  });
}

export function slowQuerySchema(maxMs: number) {
  return z.object({
    ms: z.coerce
      .number()
      .int()
      .min(0)
      .max(maxMs)
      .default(Math.min(100, maxMs))
      .meta({ description: `How long the work takes, 0 to ${maxMs} ms (SLOW_WORK_MAX).` }),
  });
}
