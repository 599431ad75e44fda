import { apiContract } from './api-contract';
import { call, startTestApp, type TestApp } from './harness';

describe('the REST API on SQLite', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  apiContract(() => t.base);

  describe('the blocking and the asynchronous slow endpoints', () => {
    it('does the same work in both modes', async () => {
      const blocking = await call<{ mode: string; ms: number }>(
        t.base,
        'GET',
        '/api/slow/blocking?ms=20',
      );
      const asynchronous = await call<{ mode: string; ms: number }>(
        t.base,
        'GET',
        '/api/slow/async?ms=20',
      );
      expect(blocking.json).toEqual({ mode: 'blocking', ms: 20 });
      expect(asynchronous.json).toEqual({ mode: 'async', ms: 20 });
    });

    it('lets other requests through while async work waits, and not while blocking work does', async () => {
      // Order of completion, not wall-clock time: a fast request sent after a slow one finishes
      // first only if the slow one does not hold the event loop.
      const order: string[] = [];
      const track = (name: string, p: Promise<unknown>) => p.then(() => order.push(name));
      await Promise.all([
        track('slow', call(t.base, 'GET', '/api/slow/async?ms=300')),
        new Promise((r) => setTimeout(r, 50)).then(() =>
          track('fast', call(t.base, 'GET', '/api/stocks/300843')),
        ),
      ]);
      expect(order).toEqual(['fast', 'slow']);
      order.length = 0;
      await Promise.all([
        track('slow', call(t.base, 'GET', '/api/slow/blocking?ms=300')),
        new Promise((r) => setTimeout(r, 50)).then(() =>
          track('fast', call(t.base, 'GET', '/api/stocks/300843')),
        ),
      ]);
      expect(order).toEqual(['slow', 'fast']);
    });

    it('refuses more than SLOW_WORK_MAX milliseconds', async () => {
      expect((await call(t.base, 'GET', '/api/slow/async?ms=1000')).status).toBe(200);
      const over = await call(t.base, 'GET', '/api/slow/blocking?ms=1001');
      expect([over.status, over.json.errors?.[0]?.field]).toEqual([400, 'ms']);
    });
  });

  describe('the rest of the surface', () => {
    it('answers problem+json 404 NOT_FOUND under /api and an HTML 404 page elsewhere', async () => {
      const api = await call(t.base, 'GET', '/api/nothing');
      expect([api.status, api.json.code]).toEqual([404, 'NOT_FOUND']);
      const res = await fetch(`${t.base}/nothing.html`, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await res.text();
      expect(html).toContain('<h1>404 · Not found</h1>');
      expect(html).toContain('NOT_FOUND');
    });

    it('serves Swagger UI from the package, without a CDN, pointed at /openapi.json', async () => {
      const page = await fetch(`${t.base}/docs`);
      const html = await page.text();
      expect(html).toContain('/docs/swagger-ui-bundle.js');
      expect(html).not.toMatch(/https?:\/\//);
      const bundle = await fetch(`${t.base}/docs/swagger-ui-bundle.js`);
      expect(bundle.status).toBe(200);
      expect(Number(bundle.headers.get('content-length'))).toBeGreaterThan(100_000);
      await bundle.arrayBuffer();
      expect(await (await fetch(`${t.base}/docs/init.js`)).text()).toContain(
        "url: '/openapi.json'",
      );
      expect((await fetch(`${t.base}/docs/package.json`)).status).toBe(404);
    });

    it('serves health, readiness with the database check, and metrics', async () => {
      const ready = await call<{ status: string; checks: Record<string, string> }>(
        t.base,
        'GET',
        '/readyz',
      );
      expect(ready.json).toEqual({ status: 'ready', checks: { database: 'ok' } });
      expect((await call(t.base, 'GET', '/healthz')).status).toBe(200);
      const metrics = await t.metrics();
      expect(metrics).toMatch(
        /dynamic_http_request_duration_seconds_count\{[^}]*method="GET",route="\/api\/stocks\/:code",status="200"/,
      );
    });

    it('echoes the x-request-id it was given', async () => {
      const res = await call(t.base, 'GET', '/api/stocks/300843', undefined, {
        'x-request-id': 'abc-123',
      });
      expect(res.headers.get('x-request-id')).toBe('abc-123');
    });
  });
});
