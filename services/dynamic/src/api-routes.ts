import type { Request } from 'express';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROBLEM_CONTENT_TYPE, requestIdOf } from '@netlab/shared';
import { defineRoute, type ApiRoute, type ResponseSpec } from './api-route';
import {
  codeParams,
  focusCreateSchema,
  focusItemSchema,
  focusListSchema,
  focusUpdateSchema,
  listQuerySchema,
  problemSchema,
  quotesFeedSchema,
  refreshResultSchema,
  slowQuerySchema,
  slowResultSchema,
  stockPageSchema,
  stockSchema,
} from './api-schemas';
import type { DynamicConfig } from './config';
import { dynamicError } from './errors';
import { sendJson } from './send-json';
import type { QuoteHub } from './quote-hub';
import type { QuoteRefresher } from './quote-refresher';
import type { SortField, StockRepository } from './stock-repository';

export interface ApiDeps {
  repo: StockRepository;
  refresher: QuoteRefresher;
  hub: QuoteHub;
  config: Pick<DynamicConfig, 'pageSize' | 'pageSizeMax' | 'slowWorkMaxMs'>;
}

const problem = (description: string): ResponseSpec => ({
  description,
  schema: problemSchema,
  contentType: PROBLEM_CONTENT_TYPE,
});
const DB_DOWN = problem('DB_UNAVAILABLE: the database is unreachable; retry after a moment.');
const BAD_PARAMS = problem('INVALID_PARAMETERS: a path or query parameter is invalid.');

/** A page of /api/stocks, for Link headers (RFC 8288 allows relative references). */
function pageLink(q: string | undefined, sort: string, limit: number, offset: number): string {
  // sort is one of SORT_VALUES and the rest are integers: only a search needs encoding.
  if (q === undefined) return `/api/stocks?sort=${sort}&limit=${limit}&offset=${offset}`;
  const qs = new URLSearchParams({ q, sort, limit: String(limit), offset: String(offset) });
  return `/api/stocks?${qs.toString()}`;
}

const sleepBlocking = (ms: number): void => {
  // Atomics.wait parks the thread without burning CPU: the event loop is blocked as a WSGI worker
  // is while it waits on a synchronous call.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** Every route of the JSON API; app.ts mounts them and openapi.ts documents them. */
export function apiRoutes(deps: ApiDeps): ApiRoute[] {
  const { repo, config } = deps;
  const listQuery = listQuerySchema(config.pageSize, config.pageSizeMax);
  const slowQuery = slowQuerySchema(config.slowWorkMaxMs);
  const requestId = (req: Request): string => requestIdOf(req.headers['x-request-id']);

  return [
    defineRoute({
      method: 'get',
      path: '/api/stocks',
      operationId: 'listStocks',
      summary: 'List stocks (paged, searchable, sortable)',
      description:
        'A page of stocks; `Link` carries `next`/`prev` pages; `ETag` lets clients revalidate with `If-None-Match`.',
      tags: ['stocks'],
      query: listQuery,
      responses: {
        200: {
          description: 'A page of stocks.',
          schema: stockPageSchema,
          headers: { ETag: 'Validator of this representation.', Link: 'RFC 8288 next/prev.' },
        },
        304: { description: 'Not modified (If-None-Match matched).' },
        400: BAD_PARAMS,
        503: DB_DOWN,
      },
      async handler({ query }, req, res) {
        const descending = query.sort.startsWith('-');
        const sort = (descending ? query.sort.slice(1) : query.sort) as SortField;
        const page = await repo.listStocks({
          q: query.q,
          limit: query.limit,
          offset: query.offset,
          sort,
          descending,
        });
        const { q, limit, offset } = query;
        let links = '';
        if (offset + limit < page.total) {
          links = `<${pageLink(q, query.sort, limit, offset + limit)}>; rel="next"`;
        }
        if (offset > 0) {
          const prev = `<${pageLink(q, query.sort, limit, Math.max(0, offset - limit))}>; rel="prev"`;
          links = links === '' ? prev : `${links}, ${prev}`;
        }
        if (links !== '') res.setHeader('link', links);
        res.setHeader('cache-control', 'no-cache');
        sendJson(req, res, { items: page.items, total: page.total, limit, offset });
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/stocks/:code',
      operationId: 'getStock',
      summary: 'One stock by code',
      tags: ['stocks'],
      params: codeParams,
      responses: {
        200: { description: 'The stock.', schema: stockSchema },
        304: { description: 'Not modified (If-None-Match matched).' },
        400: BAD_PARAMS,
        404: problem('STOCK_NOT_FOUND'),
        503: DB_DOWN,
      },
      async handler({ params }, req, res) {
        const stock = await repo.getStock(params.code);
        if (stock === undefined) {
          throw dynamicError('STOCK_NOT_FOUND', `No stock has the code ${params.code}.`);
        }
        res.setHeader('cache-control', 'no-cache');
        sendJson(req, res, stock);
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/focus',
      operationId: 'listFocus',
      summary: 'List followed stocks',
      tags: ['focus'],
      responses: {
        200: { description: 'Every followed stock, oldest first.', schema: focusListSchema },
        304: { description: 'Not modified (If-None-Match matched).' },
        503: DB_DOWN,
      },
      async handler(_input, req, res) {
        const items = await repo.listFocus();
        res.setHeader('cache-control', 'no-cache');
        sendJson(req, res, { items, total: items.length });
      },
    }),

    defineRoute({
      method: 'post',
      path: '/api/focus',
      operationId: 'createFocus',
      summary: 'Follow a stock',
      tags: ['focus'],
      body: focusCreateSchema,
      responses: {
        201: {
          description: 'Followed; `Location` is the new resource.',
          schema: focusItemSchema,
          headers: { Location: 'The followed stock: /api/focus/{code}.' },
        },
        400: problem('MALFORMED_BODY: the body is not JSON.'),
        409: problem('FOCUS_EXISTS: the stock is already followed.'),
        413: problem('BODY_TOO_LARGE'),
        415: problem('UNSUPPORTED_MEDIA_TYPE: send application/json.'),
        422: problem('VALIDATION_FAILED: names each bad field (also when no stock has the code).'),
        503: DB_DOWN,
      },
      async handler({ body }, _req, res) {
        const outcome = await repo.addFocus(body.code, body.note);
        if (outcome === 'no-stock') {
          throw dynamicError('VALIDATION_FAILED', `No stock has the code ${body.code}.`, {
            errors: [
              { in: 'body', field: 'code', pointer: '/code', detail: 'no stock has this code' },
            ],
          });
        }
        if (outcome === 'exists') {
          throw dynamicError('FOCUS_EXISTS', `${body.code} is already followed.`, {
            headers: { location: `/api/focus/${encodeURIComponent(body.code)}` },
          });
        }
        res
          .status(201)
          .location(`/api/focus/${encodeURIComponent(outcome.code)}`)
          .json(outcome);
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/focus/:code',
      operationId: 'getFocus',
      summary: 'One followed stock',
      tags: ['focus'],
      params: codeParams,
      responses: {
        200: { description: 'The followed stock and its note.', schema: focusItemSchema },
        304: { description: 'Not modified (If-None-Match matched).' },
        400: BAD_PARAMS,
        404: problem('FOCUS_NOT_FOUND'),
        503: DB_DOWN,
      },
      async handler({ params }, req, res) {
        const item = await repo.getFocus(params.code);
        if (item === undefined) {
          throw dynamicError('FOCUS_NOT_FOUND', `${params.code} is not followed.`);
        }
        res.setHeader('cache-control', 'no-cache');
        sendJson(req, res, item);
      },
    }),

    defineRoute({
      method: 'patch',
      path: '/api/focus/:code',
      operationId: 'updateFocusNote',
      summary: "Change a followed stock's note",
      tags: ['focus'],
      params: codeParams,
      body: focusUpdateSchema,
      responses: {
        200: { description: 'The updated item.', schema: focusItemSchema },
        400: BAD_PARAMS,
        404: problem('FOCUS_NOT_FOUND'),
        413: problem('BODY_TOO_LARGE'),
        415: problem('UNSUPPORTED_MEDIA_TYPE: send application/json.'),
        422: problem('VALIDATION_FAILED: names each bad field.'),
        503: DB_DOWN,
      },
      async handler({ params, body }, _req, res) {
        const item = await repo.updateNote(params.code, body.note);
        if (item === undefined) {
          throw dynamicError('FOCUS_NOT_FOUND', `${params.code} is not followed.`);
        }
        res.json(item);
      },
    }),

    defineRoute({
      method: 'delete',
      path: '/api/focus/:code',
      operationId: 'deleteFocus',
      summary: 'Stop following a stock',
      tags: ['focus'],
      params: codeParams,
      responses: {
        204: { description: 'No longer followed.' },
        400: BAD_PARAMS,
        404: problem('FOCUS_NOT_FOUND'),
        503: DB_DOWN,
      },
      async handler({ params }, _req, res) {
        if (!(await repo.removeFocus(params.code))) {
          throw dynamicError('FOCUS_NOT_FOUND', `${params.code} is not followed.`);
        }
        res.status(204).end();
      },
    }),

    defineRoute({
      method: 'post',
      path: '/api/quotes/refresh',
      operationId: 'refreshQuotes',
      summary: 'Fetch quotes through the fetcher (NATS) and apply them',
      description:
        'Asks the fetcher over NATS (`netlab.fetcher.fetch`) for QUOTES_URL, applies the quotes, and publishes every price change on `netlab.events.dynamic.quotes`, `/api/stream/quotes` (SSE) and `/ws/quotes` (WebSocket). Concurrent calls share one fetch.',
      tags: ['quotes'],
      responses: {
        200: { description: 'What changed.', schema: refreshResultSchema },
        502: problem('QUOTES_FETCH_FAILED or QUOTES_INVALID.'),
        503: problem(
          'QUOTES_SOURCE_UNSET, NATS_UNAVAILABLE, NATS_NO_RESPONDERS or DB_UNAVAILABLE.',
        ),
        504: problem('NATS_TIMEOUT: the fetcher did not answer within QUOTES_TIMEOUT.'),
      },
      async handler(_input, req, res) {
        res.json(await deps.refresher.refresh(requestId(req)));
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/quotes/feed',
      operationId: 'simulatedQuotesFeed',
      summary: 'A simulated exchange feed (a quotes document)',
      description:
        'Every stock with its price moved by a random step of up to ±2 %: a stand-in for an exchange, so that the lab can point QUOTES_URL here (through the fetcher) and watch prices move.',
      tags: ['quotes'],
      responses: {
        200: { description: 'A quotes document.', schema: quotesFeedSchema },
        503: DB_DOWN,
      },
      async handler(_input, _req, res) {
        const page = await repo.listStocks({
          limit: 100_000,
          offset: 0,
          sort: 'code',
          descending: false,
        });
        const quotes = page.items.map((s) => {
          const price = Math.max(
            0.01,
            Math.round(s.price * (1 + (Math.random() - 0.5) * 0.04) * 100) / 100,
          );
          return {
            code: s.code,
            price,
            changePct: s.changePct + Math.round(((price - s.price) / s.price) * 10_000) / 100,
          };
        });
        res.set('cache-control', 'no-store');
        res.json({ quotes });
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/stream/quotes',
      operationId: 'streamQuotes',
      summary: 'Price changes as Server-Sent Events',
      description:
        'text/event-stream: `event: quotes` frames whose data is a QuotesEvent (`{type, instance, seq, at, changes}`), a keep-alive comment every STREAM_HEARTBEAT. The same events come as JSON text messages on the WebSocket `/ws/quotes`.',
      tags: ['quotes'],
      responses: {
        200: { description: 'An endless event stream.', contentType: 'text/event-stream' },
        503: problem('STREAM_FULL: STREAM_MAX_CLIENTS clients are connected.'),
      },
      handler(_input, req, res) {
        deps.hub.serveSse(req, res);
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/slow/blocking',
      operationId: 'slowBlocking',
      summary: 'Slow work that blocks the event loop (the WSGI model)',
      description:
        'Waits `ms` milliseconds synchronously: nothing else runs meanwhile, so at most 1000/ms requests per second are served, whatever the concurrency. Compare with /api/slow/async.',
      tags: ['lesson'],
      query: slowQuery,
      responses: {
        200: { description: 'Done.', schema: slowResultSchema },
        400: BAD_PARAMS,
      },
      handler({ query }, _req, res) {
        sleepBlocking(query.ms);
        res.json({ mode: 'blocking', ms: query.ms });
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/slow/async',
      operationId: 'slowAsync',
      summary: 'The same slow work, awaited (the ASGI model)',
      description:
        'Waits `ms` milliseconds asynchronously: other requests run meanwhile, so throughput grows with concurrency (64 connections: ~64000/ms requests per second).',
      tags: ['lesson'],
      query: slowQuery,
      responses: {
        200: { description: 'Done.', schema: slowResultSchema },
        400: BAD_PARAMS,
      },
      async handler({ query }, _req, res) {
        await sleep(query.ms);
        res.json({ mode: 'async', ms: query.ms });
      },
    }),
  ];
}
