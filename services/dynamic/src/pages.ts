import express, { type Request, type Response, type Router } from 'express';
import { isNetlabError } from '@netlab/shared';
import { isStockCode, NOTE_MAX, SEARCH_MAX } from './api-schemas';
import { CSRF_FIELD, verifyCsrf } from './csrf';
import type { DynamicConfig } from './config';
import type { QuoteRefresher } from './quote-refresher';
import { SORT_FIELDS, type SortField, type StockRepository } from './stock-repository';

export interface PageDeps {
  repo: StockRepository;
  refresher: QuoteRefresher;
  config: Pick<DynamicConfig, 'pageSize' | 'bodyLimitBytes'>;
  renderPage: (req: Request, res: Response, name: string, ctx: Record<string, unknown>) => void;
}

const COLUMNS: readonly { key: SortField; label: string; numeric: boolean }[] = [
  { key: 'code', label: 'Code', numeric: false },
  { key: 'shortName', label: 'Name', numeric: false },
  { key: 'price', label: 'Price', numeric: true },
  { key: 'changePct', label: 'Change', numeric: true },
  { key: 'turnoverPct', label: 'Turnover', numeric: true },
  { key: 'high', label: 'High', numeric: true },
  { key: 'date', label: 'Date', numeric: false },
];

/** Messages after a form post (Post/Redirect/Get): the redirect names one by key. */
const NOTICES: Record<
  string,
  { kind: 'info' | 'error'; text: (code: string, n: string) => string }
> = {
  followed: { kind: 'info', text: (c) => `Now following ${c}.` },
  already: { kind: 'error', text: (c) => `${c} is already followed.` },
  unknown: { kind: 'error', text: (c) => `No stock has the code ${c}.` },
  saved: { kind: 'info', text: (c) => `Note saved for ${c}.` },
  removed: { kind: 'info', text: (c) => `Stopped following ${c}.` },
  'not-followed': { kind: 'error', text: (c) => `${c} is not followed.` },
  'note-too-long': { kind: 'error', text: () => `A note has at most ${NOTE_MAX} characters.` },
  refreshed: { kind: 'info', text: (_c, n) => `Quotes refreshed: ${n} price(s) changed.` },
  'refresh-failed': { kind: 'error', text: (_c, n) => `Refreshing quotes failed (${n}).` },
};

function one(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function noticeOf(req: Request): { kind: string; text: string } | undefined {
  // Express 5 parses the query string again on every read of req.query: read it once.
  const query = req.query;
  const key = one(query.notice);
  const spec = key === undefined ? undefined : NOTICES[key];
  if (spec === undefined) return undefined;
  const code = one(query.code) ?? '';
  const n = one(query.n) ?? '';
  return {
    kind: spec.kind,
    text: spec.text(isStockCode(code) ? code : '?', /^[A-Z0-9_]{1,40}$/.test(n) ? n : '?'),
  };
}

/** Where to go back to after a form: only our own pages (never an open redirect). */
function backTo(value: unknown, fallback: string): URL {
  const back = one(value);
  const ok = back !== undefined && /^\/(index|center)\.html(\?[^#\s\\]*)?$/.test(back);
  const url = new URL(ok ? back : fallback, 'http://local');
  url.searchParams.delete('notice');
  url.searchParams.delete('code');
  url.searchParams.delete('n');
  return url;
}

function redirectWith(res: Response, url: URL, notice: string, code?: string, n?: string): void {
  url.searchParams.set('notice', notice);
  if (code !== undefined) url.searchParams.set('code', code);
  if (n !== undefined) url.searchParams.set('n', n);
  // 303: the browser follows with a GET, so a reload does not post the form again.
  res.redirect(303, `${url.pathname}${url.search}`);
}

/** The server-rendered pages and their forms (which work without JavaScript). */
export function pageRoutes(deps: PageDeps): Router {
  const { repo } = deps;
  const router = express.Router();
  const form = express.urlencoded({
    extended: false,
    limit: deps.config.bodyLimitBytes,
    parameterLimit: 20,
  });
  const csrf = (req: Request, _res: Response, next: (err?: unknown) => void): void => {
    const body = req.body as Record<string, unknown> | undefined;
    verifyCsrf(req, body?.[CSRF_FIELD]);
    next();
  };
  const field = (req: Request, name: string): string | undefined =>
    one((req.body as Record<string, unknown> | undefined)?.[name]);

  router.get('/', (_req, res) => res.redirect(302, '/index.html'));

  router.get('/index.html', async (req, res) => {
    const query = req.query;
    const q = (one(query.q) ?? '').slice(0, SEARCH_MAX);
    const sortParam = one(query.sort) ?? 'code';
    const descending = sortParam.startsWith('-');
    const sortKey = descending ? sortParam.slice(1) : sortParam;
    const sort = (SORT_FIELDS as readonly string[]).includes(sortKey)
      ? (sortKey as SortField)
      : 'code';
    const pageNo = Math.max(
      1,
      Math.min(1_000_000, Number.parseInt(one(query.page) ?? '1', 10) || 1),
    );
    const pageSize = deps.config.pageSize;
    const result = await repo.listStocks({
      q: q === '' ? undefined : q,
      limit: pageSize,
      offset: (pageNo - 1) * pageSize,
      sort,
      descending,
    });
    const pages = Math.max(1, Math.ceil(result.total / pageSize));
    const sortValue = `${descending ? '-' : ''}${sort}`;
    // sort is a SORT_FIELDS key (with an optional '-') and page a number: only q needs encoding.
    const search = q === '' ? '' : `${new URLSearchParams({ q }).toString()}&`;
    const link = (params: { sort: string; page: string }): string =>
      `/index.html?${search}sort=${params.sort}&page=${params.page}`;
    deps.renderPage(req, res, 'index.njk', {
      page: 'index',
      live: 'sse',
      stocks: result.items,
      total: result.total,
      q,
      sort: sortValue,
      pageNo,
      pages,
      here: link({ sort: sortValue, page: String(pageNo) }),
      prevHref: pageNo > 1 ? link({ sort: sortValue, page: String(pageNo - 1) }) : undefined,
      nextHref: pageNo < pages ? link({ sort: sortValue, page: String(pageNo + 1) }) : undefined,
      columns: COLUMNS.map((c) => {
        const active = c.key === sort;
        return {
          ...c,
          active,
          descending: active && descending,
          href: link({ sort: active && !descending ? `-${c.key}` : c.key, page: '1' }),
        };
      }),
    });
  });

  router.get('/center.html', async (req, res) => {
    const items = await repo.listFocus();
    deps.renderPage(req, res, 'center.njk', {
      page: 'center',
      live: 'ws',
      items,
      noteMax: NOTE_MAX,
    });
  });

  router.post('/focus', form, csrf, async (req, res) => {
    const back = backTo(field(req, 'back'), '/index.html');
    const code = field(req, 'code') ?? '';
    if (!isStockCode(code)) return redirectWith(res, back, 'unknown');
    const outcome = await repo.addFocus(code, '');
    if (outcome === 'no-stock') return redirectWith(res, back, 'unknown', code);
    if (outcome === 'exists') return redirectWith(res, back, 'already', code);
    return redirectWith(res, back, 'followed', code);
  });

  router.post('/focus/:code/note', form, csrf, async (req, res) => {
    const back = new URL('/center.html', 'http://local');
    const code = String(req.params.code);
    const note = field(req, 'note') ?? '';
    if (!isStockCode(code)) return redirectWith(res, back, 'not-followed');
    if (note.length > NOTE_MAX) return redirectWith(res, back, 'note-too-long', code);
    const item = await repo.updateNote(code, note);
    return redirectWith(res, back, item === undefined ? 'not-followed' : 'saved', code);
  });

  router.post('/focus/:code/delete', form, csrf, async (req, res) => {
    const back = new URL('/center.html', 'http://local');
    const code = String(req.params.code);
    if (!isStockCode(code)) return redirectWith(res, back, 'not-followed');
    const removed = await repo.removeFocus(code);
    return redirectWith(res, back, removed ? 'removed' : 'not-followed', code);
  });

  router.post('/quotes/refresh', form, csrf, async (req, res) => {
    const back = backTo(field(req, 'back'), '/index.html');
    try {
      const result = await deps.refresher.refresh();
      redirectWith(res, back, 'refreshed', undefined, String(result.updated));
    } catch (err) {
      if (!isNetlabError(err)) throw err;
      redirectWith(res, back, 'refresh-failed', undefined, err.code);
    }
  });

  return router;
}

export { noticeOf };
