import type { z } from 'zod';
import type {
  focusItemSchema,
  focusListSchema,
  stockPageSchema,
  stockSchema,
} from '../src/api-schemas';
import { call, type ProblemBody } from './harness';

type StockPage = z.output<typeof stockPageSchema>;
type Stock = z.output<typeof stockSchema>;
type FocusItem = z.output<typeof focusItemSchema>;
type FocusList = z.output<typeof focusListSchema>;

/** Seed facts the contract relies on (infra/db/seed/stocks.json). */
export const SEED_COUNT = 240;
const A_CODE = '300843'; // "Lotus Media", the first seed row
const B_CODE = '600483'; // "Delta Logistics"

/**
 * The REST API's behaviour, run against SQLite (api.test.ts) and against a real MariaDB
 * (mariadb.int.test.ts): the same requests must give the same answers on both dialects.
 * `base()` is the app's URL; page sizes are the defaults (PAGE_SIZE 20, PAGE_SIZE_MAX 100) and
 * BODY_LIMIT is 16KiB.
 */
export function apiContract(base: () => string): void {
  const get = <T = ProblemBody>(path: string, headers?: Record<string, string>) =>
    call<T>(base(), 'GET', path, undefined, headers);

  describe('GET /api/stocks', () => {
    it('answers the first page with the total, the default page size and a next link', async () => {
      const res = await get<StockPage>('/api/stocks');
      expect(res.status).toBe(200);
      expect(res.json.total).toBe(SEED_COUNT);
      expect(res.json.items).toHaveLength(20);
      expect(res.json.items[0]!.code).toBe('000020');
      expect(res.headers.get('link')).toBe(
        '</api/stocks?sort=code&limit=20&offset=20>; rel="next"',
      );
    });

    it('pages to the end with a prev link and no next link', async () => {
      const res = await get<StockPage>('/api/stocks?offset=230&limit=20');
      expect(res.json.items).toHaveLength(10);
      expect(res.headers.get('link')).toBe(
        '</api/stocks?sort=code&limit=20&offset=210>; rel="prev"',
      );
      const all = new Set<string>();
      for (let offset = 0; offset < SEED_COUNT; offset += 100) {
        const page = await get<StockPage>(`/api/stocks?limit=100&offset=${offset}`);
        for (const s of page.json.items) all.add(s.code);
      }
      expect(all.size).toBe(SEED_COUNT);
    });

    it('sorts by any documented field, descending with a leading minus', async () => {
      const res = await get<StockPage>('/api/stocks?sort=-price&limit=50');
      const prices = res.json.items.map((s) => s.price);
      expect(prices).toEqual([...prices].sort((a, b) => b - a));
      const names = (await get<StockPage>('/api/stocks?sort=shortName&limit=50')).json.items.map(
        (s) => s.shortName,
      );
      expect(names[0]! <= names[1]!).toBe(true);
    });

    it('searches names case-insensitively and codes by substring', async () => {
      const byName = await get<StockPage>('/api/stocks?q=LOTUS&limit=100');
      expect(byName.json.total).toBeGreaterThan(0);
      for (const s of byName.json.items) expect(s.shortName.toLowerCase()).toContain('lotus');
      const byCode = await get<StockPage>(`/api/stocks?q=${A_CODE}`);
      expect(byCode.json.items.map((s) => s.code)).toEqual([A_CODE]);
    });

    it('treats LIKE wildcards in a search as literal characters', async () => {
      expect((await get<StockPage>('/api/stocks?q=%25')).json.total).toBe(0);
      expect((await get<StockPage>('/api/stocks?q=_')).json.total).toBe(0);
      expect((await get<StockPage>('/api/stocks?q=!')).json.total).toBe(0);
    });

    it('is not injectable through q, sort or the code', async () => {
      const attempts = [
        "' OR 1=1 --",
        "'); DROP TABLE focus; --",
        '" OR ""="',
        "x' UNION SELECT code, short_name FROM info --",
      ];
      for (const q of attempts) {
        const res = await get<StockPage>(`/api/stocks?q=${encodeURIComponent(q)}`);
        expect(res.status).toBe(200);
        expect(res.json.total).toBe(0);
      }
      const sort = await get(`/api/stocks?sort=${encodeURIComponent('price; DROP TABLE info')}`);
      expect(sort.status).toBe(400);
      expect(sort.json.errors?.map((e) => e.field)).toEqual(['sort']);
      const code = await get(`/api/stocks/${encodeURIComponent("1' OR '1'='1")}`);
      expect(code.status).toBe(400);
      expect((await get<StockPage>('/api/stocks')).json.total).toBe(SEED_COUNT);
      expect((await get<FocusList>('/api/focus')).status).toBe(200);
    });

    it('answers 400 naming each bad query parameter, including limit past PAGE_SIZE_MAX', async () => {
      const res = await get('/api/stocks?limit=101&offset=-1');
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.json.code).toBe('INVALID_PARAMETERS');
      expect(res.json.errors?.map((e) => [e.in, e.field])).toEqual([
        ['query', 'limit'],
        ['query', 'offset'],
      ]);
      expect((await get<StockPage>('/api/stocks?limit=100')).json.items).toHaveLength(100);
      expect((await get('/api/stocks?limit=0')).status).toBe(400);
      expect((await get('/api/stocks?limit=abc')).status).toBe(400);
      expect((await get('/api/stocks?limit=5&limit=6')).status).toBe(400);
    });

    it('revalidates a page of stocks: 304 to its ETag (also in a list, weakly compared), 200 to no-cache, a new ETag once a stock on it changed', async () => {
      const path = '/api/stocks?limit=5';
      const first = await get<StockPage>(path);
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^"[0-9a-f]+-[A-Za-z0-9+/]{27}"$/);
      expect(first.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(Number(first.headers.get('content-length'))).toBe(Buffer.byteLength(first.text));
      const revalidate = (tags: string, cacheControl = 'max-age=0') =>
        get(path, { 'if-none-match': tags, 'cache-control': cacheControl });
      const again = await revalidate(etag);
      expect([again.status, again.text]).toEqual([304, '']);
      expect(again.headers.get('etag')).toBe(etag);
      // RFC 9110 §13.1.2: a list of entity tags, compared weakly.
      expect((await revalidate(`"other", W/${etag}`)).status).toBe(304);
      expect((await revalidate('"other"')).status).toBe(200);
      expect((await revalidate(etag, 'no-cache')).status).toBe(200);
      const code = first.json.items[0]!.code;
      await call(base(), 'POST', '/api/focus', { code });
      try {
        const changed = await revalidate(etag);
        expect(changed.status).toBe(200);
        expect((changed.json as unknown as StockPage).items[0]!.followed).toBe(true);
        expect(changed.headers.get('etag')).not.toBe(etag);
      } finally {
        await call(base(), 'DELETE', `/api/focus/${code}`);
      }
    });

    it('answers HEAD with the headers of GET and no body', async () => {
      const full = await fetch(`${base()}/api/stocks?limit=5`);
      const head = await fetch(`${base()}/api/stocks?limit=5`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
      for (const name of ['etag', 'content-length', 'content-type', 'link']) {
        expect(head.headers.get(name)).toBe(full.headers.get(name));
      }
      await full.arrayBuffer();
    });

    it('answers 304 to a matching If-None-Match and a new ETag once the data changed', async () => {
      const first = await get<Stock>(`/api/stocks/${B_CODE}`);
      const etag = first.headers.get('etag');
      expect(etag).toBeTruthy();
      // What a browser sends on reload. (fetch adds `cache-control: no-cache` to a conditional
      // request without one, and Express then answers in full, as its `fresh` module decides.)
      const revalidate = { 'if-none-match': etag!, 'cache-control': 'max-age=0' };
      const again = await get(`/api/stocks/${B_CODE}`, revalidate);
      expect(again.status).toBe(304);
      expect(again.text).toBe('');
      await call(base(), 'POST', '/api/focus', { code: B_CODE });
      try {
        const changed = await get<Stock>(`/api/stocks/${B_CODE}`, revalidate);
        expect(changed.status).toBe(200);
        expect(changed.json.followed).toBe(true);
        expect(changed.headers.get('etag')).not.toBe(etag);
      } finally {
        await call(base(), 'DELETE', `/api/focus/${B_CODE}`);
      }
    });
  });

  describe('GET /api/stocks/:code', () => {
    it('answers the stock, 404 STOCK_NOT_FOUND for an unknown code, 400 for a malformed one', async () => {
      const ok = await get<Stock>(`/api/stocks/${A_CODE}`);
      expect(ok.json).toEqual({
        code: A_CODE,
        shortName: 'Lotus Media',
        changePct: -0.07,
        turnoverPct: 1.75,
        price: 40.23,
        high: 41.86,
        date: '2026-11-08',
        followed: false,
      });
      const missing = await get('/api/stocks/999999');
      expect([missing.status, missing.json.code]).toEqual([404, 'STOCK_NOT_FOUND']);
      const bad = await get('/api/stocks/%3Cscript%3E');
      expect([bad.status, bad.json.code]).toEqual([400, 'INVALID_PARAMETERS']);
    });
  });

  describe('/api/focus', () => {
    it('creates (201 + Location), lists, reads, updates the note, deletes (204) and forgets', async () => {
      const created = await call<FocusItem>(base(), 'POST', '/api/focus', {
        code: A_CODE,
        note: 'watch 東方 📈',
      });
      expect(created.status).toBe(201);
      expect(created.headers.get('location')).toBe(`/api/focus/${A_CODE}`);
      expect(created.json).toMatchObject({
        code: A_CODE,
        shortName: 'Lotus Media',
        note: 'watch 東方 📈',
      });

      const list = await get<FocusList>('/api/focus');
      expect(list.json.items.map((i) => i.code)).toEqual([A_CODE]);
      expect(list.json.total).toBe(1);
      expect((await get<FocusItem>(`/api/focus/${A_CODE}`)).json.note).toBe('watch 東方 📈');

      const patched = await call<FocusItem>(base(), 'PATCH', `/api/focus/${A_CODE}`, {
        note: 'sold',
      });
      expect(patched.status).toBe(200);
      expect(patched.json.note).toBe('sold');
      expect((await get<FocusItem>(`/api/focus/${A_CODE}`)).json.note).toBe('sold');

      const deleted = await call(base(), 'DELETE', `/api/focus/${A_CODE}`);
      expect([deleted.status, deleted.text]).toEqual([204, '']);
      expect((await call(base(), 'DELETE', `/api/focus/${A_CODE}`)).json.code).toBe(
        'FOCUS_NOT_FOUND',
      );
      expect((await get(`/api/focus/${A_CODE}`)).status).toBe(404);
      expect((await call(base(), 'PATCH', `/api/focus/${A_CODE}`, { note: 'x' })).status).toBe(404);
      expect((await get<FocusList>('/api/focus')).json.total).toBe(0);
    });

    it('answers 409 FOCUS_EXISTS to a duplicate, and exactly one of racing creates wins', async () => {
      const results = await Promise.all(
        Array.from({ length: 6 }, () => call(base(), 'POST', '/api/focus', { code: B_CODE })),
      );
      try {
        const statuses = results.map((r) => r.status).sort();
        expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
        const dup = results.find((r) => r.status === 409)!;
        expect(dup.json.code).toBe('FOCUS_EXISTS');
      } finally {
        await call(base(), 'DELETE', `/api/focus/${B_CODE}`);
      }
    });

    it('answers 422 naming each bad field: unknown stock, missing code, long note, unknown key', async () => {
      const unknown = await call(base(), 'POST', '/api/focus', { code: '999999' });
      expect([unknown.status, unknown.json.code]).toEqual([422, 'VALIDATION_FAILED']);
      expect(unknown.json.errors).toEqual([
        { in: 'body', field: 'code', pointer: '/code', detail: 'no stock has this code' },
      ]);
      const bad = await call(base(), 'POST', '/api/focus', {
        note: 'x'.repeat(201),
        colour: 'red',
      });
      expect(bad.status).toBe(422);
      expect(bad.json.errors?.map((e) => e.pointer).sort()).toEqual(['/code', '/colour', '/note']);
      const wrongType = await call(base(), 'PATCH', `/api/focus/${A_CODE}`, { note: 42 });
      expect(wrongType.status).toBe(422);
      expect(wrongType.json.errors?.[0]?.field).toBe('note');
      expect((await get<FocusList>('/api/focus')).json.total).toBe(0);
    });

    it('answers 400 MALFORMED_BODY, 415 for another content type and 413 past BODY_LIMIT', async () => {
      const malformed = await call(base(), 'POST', '/api/focus', '{"code": ');
      expect([malformed.status, malformed.json.code]).toEqual([400, 'MALFORMED_BODY']);
      const form = await call(base(), 'POST', '/api/focus', `code=${A_CODE}`, {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect([form.status, form.json.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
      const empty = await call(base(), 'POST', '/api/focus');
      expect(empty.status).toBe(415);
      const justUnder = await call(base(), 'POST', '/api/focus', {
        code: '999999',
        note: 'x'.repeat(16 * 1024 - 40),
      });
      expect(justUnder.status).toBe(422);
      const tooBig = await call(base(), 'POST', '/api/focus', {
        code: A_CODE,
        note: 'x'.repeat(16 * 1024),
      });
      expect([tooBig.status, tooBig.json.code]).toEqual([413, 'BODY_TOO_LARGE']);
      expect((await get<FocusList>('/api/focus')).json.total).toBe(0);
    });

    it('answers 405 with Allow to a verb the resource does not have, and OPTIONS with 204', async () => {
      const put = await call(base(), 'PUT', `/api/focus/${A_CODE}`, { note: 'x' });
      expect([put.status, put.json.code]).toEqual([405, 'METHOD_NOT_ALLOWED']);
      expect(put.headers.get('allow')).toBe('GET, HEAD, PATCH, DELETE, OPTIONS');
      const options = await call(base(), 'OPTIONS', '/api/stocks');
      expect([options.status, options.headers.get('allow')]).toEqual([204, 'GET, HEAD, OPTIONS']);
    });
  });
}
