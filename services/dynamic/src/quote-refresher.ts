import { Counter, type Registry } from 'prom-client';
import { netlabError, subjects, type Logger, type Msg, type NatsClient } from '@netlab/shared';
import { z } from 'zod';
import { fieldErrors } from './api-route';
import { quoteSchema } from './api-schemas';
import { dynamicError } from './errors';
import type { QuoteHub } from './quote-hub';
import type { Quote, QuoteChange, StockRepository } from './stock-repository';

export interface RefreshResult {
  source: string;
  received: number;
  updated: number;
  unchanged: number;
  unknown: string[];
  changes: QuoteChange[];
}

export interface QuoteRefresherOptions {
  repo: StockRepository;
  hub: QuoteHub;
  /** The quotes document the fetcher is asked to fetch; unset: refresh answers 503. */
  quotesUrl: string | undefined;
  timeoutMs: number;
  maxItems: number;
  logger: Logger;
  registry: Registry;
}

/**
 * `POST /api/quotes/refresh`: asks the fetcher, over NATS (`netlab.fetcher.fetch`), to GET the
 * quotes document, validates it, applies it, and publishes what changed. Concurrent refreshes
 * share one fetch (single flight), so a burst of clicks costs one upstream request.
 */
export interface QuoteRefresher {
  /** Set once the instance has joined NATS; undefined again when leaving. */
  setNats(nats: NatsClient | undefined): void;
  refresh(requestId?: string): Promise<RefreshResult>;
}

/** What we send to the fetcher: its request envelope, with only the fields every version has. */
export function fetchRequest(url: string): {
  method: 'GET';
  url: string;
  headers: Record<string, string>;
} {
  return { method: 'GET', url, headers: { accept: 'application/json' } };
}

const record = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;

function decodeText(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw dynamicError('QUOTES_INVALID', `The ${what} is not JSON.`);
  }
}

/**
 * The quotes document inside the fetcher's reply. The reply is the fetcher's response envelope:
 * `status` and the body as `json`, `text` or `base64` (at the top or under `body`, which may also
 * be the text itself); a reply with `error` or a problem `code` and no status is a failed fetch.
 */
export function documentFromReply(reply: unknown): unknown {
  const env = record(reply);
  if (env === undefined)
    throw dynamicError('QUOTES_FETCH_FAILED', 'The fetcher replied with no envelope.');
  const status = typeof env.status === 'number' ? env.status : undefined;
  if (status === undefined) {
    const error = record(env.error) ?? env;
    const code = typeof error.code === 'string' ? error.code : 'unknown';
    const detail =
      typeof error.detail === 'string'
        ? error.detail
        : typeof error.message === 'string'
          ? error.message
          : '';
    throw dynamicError(
      'QUOTES_FETCH_FAILED',
      `The fetcher could not fetch the quotes (${code})${detail === '' ? '' : `: ${detail}`}.`,
    );
  }
  if (status < 200 || status > 299) {
    throw dynamicError('QUOTES_FETCH_FAILED', `The quotes source answered HTTP ${status}.`);
  }
  const body = record(env.body);
  const json = env.json ?? body?.json;
  if (json !== undefined) return json;
  const text =
    typeof env.text === 'string'
      ? env.text
      : typeof body?.text === 'string'
        ? body.text
        : undefined;
  if (text !== undefined) return decodeText(text, 'quotes document');
  const b64 =
    typeof env.base64 === 'string'
      ? env.base64
      : typeof body?.base64 === 'string'
        ? body.base64
        : undefined;
  if (b64 !== undefined)
    return decodeText(Buffer.from(b64, 'base64').toString('utf8'), 'quotes document');
  if (typeof env.body === 'string') {
    const raw =
      env.encoding === 'base64' ? Buffer.from(env.body, 'base64').toString('utf8') : env.body;
    return decodeText(raw, 'quotes document');
  }
  throw dynamicError('QUOTES_INVALID', 'The fetcher reply has no body.');
}

/** Validates a quotes document: `{ quotes: [...] }` or a bare array, at most `maxItems` quotes. */
export function parseQuotes(doc: unknown, maxItems: number): Quote[] {
  const list = Array.isArray(doc) ? doc : record(doc)?.quotes;
  if (!Array.isArray(list)) {
    throw dynamicError('QUOTES_INVALID', 'Expected { "quotes": [...] } or an array of quotes.');
  }
  if (list.length > maxItems) {
    throw dynamicError(
      'QUOTES_INVALID',
      `The document has ${list.length} quotes; at most ${maxItems} are accepted (QUOTES_MAX_ITEMS).`,
    );
  }
  const result = z.array(quoteSchema).safeParse(list);
  if (!result.success) {
    const errors = fieldErrors(result.error, 'body').slice(0, 20);
    throw dynamicError(
      'QUOTES_INVALID',
      `${result.error.issues.length} quote field(s) are invalid.`,
      { errors },
    );
  }
  return result.data;
}

function serviceError(msg: Msg): string | undefined {
  // @nats-io/services replies to a failed endpoint with these headers and an empty body.
  const code = msg.headers?.get('Nats-Service-Error-Code');
  if (code === undefined || code === '') return undefined;
  return `${code} ${msg.headers?.get('Nats-Service-Error') ?? ''}`.trim();
}

export function createQuoteRefresher(opts: QuoteRefresherOptions): QuoteRefresher {
  const log = opts.logger.child({ component: 'quotes' });
  let nats: NatsClient | undefined;
  let inFlight: Promise<RefreshResult> | undefined;
  const refreshes = new Counter({
    name: 'dynamic_quote_refreshes_total',
    help: 'Quote refreshes, by outcome (ok or the error code)',
    labelNames: ['outcome'],
    registers: [opts.registry],
  });
  const changed = new Counter({
    name: 'dynamic_quote_changes_total',
    help: 'Stock prices changed by refreshes',
    registers: [opts.registry],
  });

  const run = async (requestId: string | undefined): Promise<RefreshResult> => {
    const url = opts.quotesUrl;
    if (url === undefined) {
      throw dynamicError('QUOTES_SOURCE_UNSET', 'Set QUOTES_URL to the quotes document to fetch.');
    }
    if (nats === undefined) {
      throw netlabError(
        'NATS_UNAVAILABLE',
        'Quotes are fetched by the fetcher over NATS, and this instance is not connected (NATS_URL unset or not joined yet).',
      );
    }
    const msg = await nats.request(subjects.fetcherFetch, JSON.stringify(fetchRequest(url)), {
      timeoutMs: opts.timeoutMs,
      ...(requestId === undefined ? {} : { requestId }),
    });
    const failure = serviceError(msg);
    if (failure !== undefined) {
      throw dynamicError(
        'QUOTES_FETCH_FAILED',
        `The fetcher could not fetch the quotes (${failure}).`,
      );
    }
    let reply: unknown;
    try {
      reply = msg.json<unknown>();
    } catch {
      throw dynamicError(
        'QUOTES_FETCH_FAILED',
        'The fetcher replied with something that is not JSON.',
      );
    }
    const quotes = parseQuotes(documentFromReply(reply), opts.maxItems);
    const applied = await opts.repo.applyQuotes(quotes);
    if (applied.changes.length > 0) opts.hub.publish(applied.changes);
    changed.inc(applied.changes.length);
    log.info(
      {
        source: url,
        received: quotes.length,
        updated: applied.changes.length,
        unknown: applied.unknown.length,
      },
      'quotes refreshed',
    );
    return {
      source: url,
      received: quotes.length,
      updated: applied.changes.length,
      unchanged: applied.unchanged,
      unknown: applied.unknown,
      changes: applied.changes,
    };
  };

  return {
    setNats(client) {
      nats = client;
    },
    refresh(requestId) {
      inFlight ??= run(requestId)
        .then(
          (r) => {
            refreshes.inc({ outcome: 'ok' });
            return r;
          },
          (err: unknown) => {
            refreshes.inc({ outcome: (err as { code?: string }).code ?? 'INTERNAL' });
            throw err;
          },
        )
        .finally(() => (inFlight = undefined));
      return inFlight;
    },
  };
}
