import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { createLogger } from '@netlab/shared';
import { waitFor } from '@netlab/shared/testing';
import { request } from 'undici';
import type { DownloadRecord } from '../src/download-manager';
import { startApp, type App } from './fixtures/app';
import { startUpstream, type Upstream } from './fixtures/fetcher';
import { createRoutes, type Routes } from './fixtures/routes';

let routes: Routes;
let up: Upstream;
let app: App;

beforeAll(async () => {
  routes = createRoutes();
  up = await startUpstream(routes.handler);
  app = await startApp();
});

afterAll(async () => {
  routes.close();
  await app.close();
  await up.close();
});

const post = (path: string, body: unknown, a: App = app, headers: Record<string, string> = {}) =>
  request(`${a.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('POST /fetch', () => {
  it('answers 200 with the envelope, whatever the upstream status', async () => {
    const res = await post('/fetch', { url: `${up.url}/echo?status=404` });
    expect(res.statusCode).toBe(200);
    const body = (await res.body.json()) as { status: number; ok: boolean };
    expect([body.status, body.ok]).toEqual([404, false]);
  });

  it('answers problem+json with the stable code for a denied destination', async () => {
    const res = await post('/fetch', { url: 'http://169.254.169.254/latest/meta-data/' });
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(await res.body.json()).toMatchObject({
      code: 'FETCH_DESTINATION_DENIED',
      status: 403,
      retryable: false,
    });
  });

  it('echoes x-request-id on replies and on problems, and makes one up when none is sent', async () => {
    const ok = await post('/fetch', { url: `${up.url}/echo` }, app, { 'x-request-id': 'trace-1' });
    expect([ok.statusCode, ok.headers['x-request-id']]).toEqual([200, 'trace-1']);
    await ok.body.dump();
    const denied = await post('/fetch', { url: 'http://10.0.0.1/' }, app, {
      'x-request-id': 'trace-2',
    });
    expect([denied.statusCode, denied.headers['x-request-id']]).toEqual([403, 'trace-2']);
    await denied.body.dump();
    const made = await post('/fetch', { url: `${up.url}/echo` });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f]{12}-\d+$/);
    await made.body.dump();
    const other = await request(`${app.url}/downloads`, { headers: { 'x-request-id': 'trace-3' } });
    expect(other.headers['x-request-id']).toBe('trace-3');
    await other.body.dump();
  });

  it('gives the request logger its id, so the reply and the log line name the same one', async () => {
    const lines: { req?: { id?: string } }[] = [];
    const logger = createLogger({
      service: 'fetcher',
      instance: 'test',
      level: 'info',
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as never) },
    });
    const logged = await startApp({}, logger);
    try {
      const given = await post('/fetch', { url: `${up.url}/echo` }, logged, {
        'x-request-id': 'trace-7',
      });
      await given.body.dump();
      const made = await post('/fetch', { url: `${up.url}/echo` }, logged);
      await made.body.dump();
      const madeId = made.headers['x-request-id'] as string;
      expect([given.headers['x-request-id'], madeId]).toEqual([
        'trace-7',
        expect.stringMatching(/^[0-9a-f]{12}-\d+$/),
      ]);
      await waitFor('two request log lines', () => lines.filter((l) => l.req?.id).length >= 2);
      expect(lines.map((l) => l.req?.id).filter(Boolean)).toEqual(['trace-7', madeId]);
    } finally {
      await logged.close();
    }
  });

  it('lists every problem of an invalid envelope in one 400', async () => {
    const res = await post('/fetch', { url: 'http://x/', method: 'bad method', timeout: 'soon' });
    expect(res.statusCode).toBe(400);
    const problem = (await res.body.json()) as { code: string; detail: string };
    expect(problem.code).toBe('FETCH_INVALID_REQUEST');
    expect(problem.detail).toContain('method');
    expect(problem.detail).toContain('timeout');
  });

  it('refuses a body that is not JSON (415) and one that is not valid JSON (400)', async () => {
    expect(
      (await post('/fetch', 'url=x', app, { 'content-type': 'application/x-www-form-urlencoded' }))
        .statusCode,
    ).toBe(415);
    const res = await post('/fetch', '{"url":');
    expect([res.statusCode, ((await res.body.json()) as { code: string }).code]).toEqual([
      400,
      'FETCH_INVALID_REQUEST',
    ]);
  });

  it('refuses an envelope over FETCH_MAX_REQUEST_BYTES with 413', async () => {
    const small = await startApp({ FETCH_MAX_REQUEST_BYTES: '1024' });
    try {
      const res = await post('/fetch', { url: `${up.url}/echo`, data: 'x'.repeat(2000) }, small);
      expect(res.statusCode).toBe(413);
      expect(await res.body.json()).toMatchObject({ code: 'FETCH_REQUEST_TOO_LARGE' });
    } finally {
      await small.close();
    }
  });

  it('answers 429 with Retry-After when the host queue is full', async () => {
    const tight = await startApp({
      FETCH_HOST_CONCURRENCY: '1',
      FETCH_HOST_QUEUE: '0',
      FETCH_BUSY_RETRY_AFTER: '7',
    });
    try {
      const slow = post('/fetch', { url: `${up.url}/slow?ms=300` }, tight);
      await waitFor(
        'the slow fetch to hold the slot',
        () => tight.core.limiter.stats().running === 1,
      );
      const res = await post('/fetch', { url: `${up.url}/echo` }, tight);
      expect([res.statusCode, res.headers['retry-after']]).toEqual([429, '7']);
      expect(await res.body.json()).toMatchObject({ code: 'FETCH_HOST_BUSY', retryable: true });
      expect((await slow).statusCode).toBe(200);
    } finally {
      await tight.close();
    }
  });

  it('answers 405 with Allow for a wrong method and 404 for an unknown path', async () => {
    const get = await request(`${app.url}/fetch`);
    expect([get.statusCode, get.headers.allow]).toEqual([405, 'POST']);
    await get.body.dump();
    const missing = await request(`${app.url}/nope`);
    expect(missing.statusCode).toBe(404);
    expect(await missing.body.json()).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('POST /fetch/stream', () => {
  it('streams the upstream status, headers and body through', async () => {
    const res = await post('/fetch/stream', { url: `${up.url}/bytes?n=${3 * 1024 * 1024}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(3 * 1024 * 1024));
    expect(res.headers['x-fetcher-url']).toBe(`${up.url}/bytes?n=${3 * 1024 * 1024}`);
    const body = Buffer.from(await res.body.arrayBuffer());
    expect(body.length).toBe(3 * 1024 * 1024);
    expect(body.every((b) => b === 0x61)).toBe(true);
  });

  it('passes an upstream error status through, with its reason', async () => {
    const res = await post('/fetch/stream', { url: `${up.url}/echo?status=418` });
    expect([res.statusCode, res.statusText]).toEqual([418, "I'm a Teapot"]);
    await res.body.dump();
  });

  it('passes Content-Encoding through untouched by default, and decodes when asked', async () => {
    const raw = await post('/fetch/stream', {
      url: `${up.url}/encoded?coding=gzip`,
      headers: { 'Accept-Encoding': 'gzip' },
    });
    expect(raw.headers['content-encoding']).toBe('gzip');
    expect(
      JSON.parse(zlib.gunzipSync(Buffer.from(await raw.body.arrayBuffer())).toString()),
    ).toEqual({ hello: 'wörld', n: 42 });
    const decoded = await post('/fetch/stream', {
      url: `${up.url}/encoded?coding=br`,
      response: { decode: true },
    });
    expect(decoded.headers['content-encoding']).toBeUndefined();
    expect(await decoded.body.json()).toEqual({ hello: 'wörld', n: 42 });
  });

  it('answers problem+json when the fetch fails before the headers', async () => {
    const res = await post('/fetch/stream', { url: 'http://10.0.0.1/' });
    expect(res.statusCode).toBe(403);
    expect(res.headers['x-fetcher-url']).toBeUndefined();
    expect(await res.body.json()).toMatchObject({ code: 'FETCH_DESTINATION_DENIED' });
  });

  it('stops the upstream when the caller goes away', async () => {
    let closed = false;
    const dripping = await startUpstream((req, res) => {
      res.writeHead(200);
      const t = setInterval(() => res.write('x'), 20);
      res.once('close', () => {
        clearInterval(t);
        closed = true;
      });
    });
    try {
      const controller = new AbortController();
      const res = await request(`${app.url}/fetch/stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: dripping.url }),
        signal: controller.signal,
      });
      expect(res.statusCode).toBe(200);
      controller.abort();
      await waitFor('the upstream connection to close', () => closed);
      await waitFor('the slot to be released', () => app.core.limiter.stats().running === 0);
    } finally {
      await dripping.close();
    }
  });

  it('cancels an inline fetch when its caller goes away before the reply', async () => {
    let seen = false;
    let closed = false;
    const silent = await startUpstream((req) => {
      // Headers never come: only the caller leaving can end this fetch before its deadline.
      seen = true;
      req.socket.once('close', () => (closed = true));
    });
    try {
      const controller = new AbortController();
      const pending = request(`${app.url}/fetch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: silent.url }),
        signal: controller.signal,
      }).catch((err: unknown) => err);
      await waitFor('the upstream to get the request', () => seen);
      controller.abort();
      await pending;
      await waitFor('the upstream connection to close', () => closed);
      await waitFor('the slot to be released', () => app.core.limiter.stats().running === 0);
    } finally {
      await silent.close();
    }
  });
});

describe('downloads', () => {
  const get = async (id: string): Promise<DownloadRecord> =>
    (await (await request(`${app.url}/downloads/${id}`)).body.json()) as DownloadRecord;

  it('downloads to FETCH_DOWNLOADS_DIR and reports progress, size and sha256', async () => {
    const n = 5 * 1024 * 1024;
    const res = await post('/downloads', {
      url: `${up.url}/bytes?n=${n}`,
      download: { filename: '../evil name.bin' },
    });
    expect(res.statusCode).toBe(202);
    const started = (await res.body.json()) as DownloadRecord;
    expect(res.headers.location).toBe(`/downloads/${started.id}`);
    const done = await waitFor('the download to finish', async () => {
      const r = await get(started.id);
      return r.state === 'done' ? r : undefined;
    });
    expect(done).toMatchObject({ bytes: n, total: n, status: 200 });
    expect(done.path).toBe(join(app.dir, `${started.id}-evil_name.bin`));
    expect(done.sha256).toBe(createHash('sha256').update(Buffer.alloc(n, 0x61)).digest('hex'));
    expect(readFileSync(done.path!).length).toBe(n);
    expect(app.events.filter((e) => e.download.id === started.id).at(-1)?.kind).toBe('done');
    const list = (await (await request(`${app.url}/downloads`)).body.json()) as {
      downloads: DownloadRecord[];
    };
    expect(list.downloads.map((d) => d.id)).toContain(started.id);
  });

  it('streams progress as server-sent events until the download ends', async () => {
    const started = (await (
      await post('/downloads', { url: `${up.url}/drip?every=20`, timeout: { total: 0.5 } })
    ).body.json()) as DownloadRecord;
    const res = await request(`${app.url}/downloads/${started.id}/events`);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const text = await res.body.text();
    const kinds = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(kinds[0]).toBe('progress');
    expect(kinds.at(-1)).toBe('failed');
    const last = JSON.parse(/data: (.*)\n\n$/.exec(text)![1]!) as DownloadRecord;
    expect(last.error).toMatchObject({ code: 'FETCH_DEADLINE_EXCEEDED' });
    expect(last.bytes).toBeGreaterThan(0);
    expect(existsSync(join(app.dir, `${started.id}-drip.part`))).toBe(false);
  });

  it('cancels a running download with DELETE', async () => {
    const started = (await (
      await post('/downloads', { url: `${up.url}/drip?every=20` })
    ).body.json()) as DownloadRecord;
    const res = await request(`${app.url}/downloads/${started.id}`, { method: 'DELETE' });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const r = await waitFor('the cancel', async () => {
      const x = await get(started.id);
      return x.state !== 'running' ? x : undefined;
    });
    expect(r).toMatchObject({ state: 'cancelled', error: { code: 'FETCH_DOWNLOAD_CANCELLED' } });
  });

  it('marks an upstream error status as failed with FETCH_UPSTREAM_STATUS', async () => {
    const started = (await (
      await post('/downloads', { url: `${up.url}/echo?status=500` })
    ).body.json()) as DownloadRecord;
    const r = await waitFor('the failure', async () => {
      const x = await get(started.id);
      return x.state === 'failed' ? x : undefined;
    });
    expect(r).toMatchObject({ status: 500, error: { code: 'FETCH_UPSTREAM_STATUS' } });
  });

  it('refuses more than FETCH_MAX_DOWNLOADS at once with 503', async () => {
    const one = await startApp({ FETCH_MAX_DOWNLOADS: '1' });
    try {
      expect((await post('/downloads', { url: `${up.url}/drip?every=50` }, one)).statusCode).toBe(
        202,
      );
      const res = await post('/downloads', { url: `${up.url}/echo` }, one);
      expect([res.statusCode, res.headers['retry-after']]).toEqual([503, '5']);
      expect(await res.body.json()).toMatchObject({ code: 'FETCH_DOWNLOADS_FULL' });
    } finally {
      await one.close();
    }
  });

  it('answers 404 for an unknown download and 400 for a bad download option', async () => {
    const res = await request(`${app.url}/downloads/00000000-0000-0000-0000-000000000000`);
    expect([res.statusCode, ((await res.body.json()) as { code: string }).code]).toEqual([
      404,
      'FETCH_DOWNLOAD_NOT_FOUND',
    ]);
    const bad = await post('/downloads', { url: `${up.url}/echo`, download: { filename: 3 } });
    expect(bad.statusCode).toBe(400);
    await bad.body.dump();
  });
});

describe('sessions and health', () => {
  it('shows and forgets a session', async () => {
    await (
      await post('/fetch', {
        url: `${up.url}/set-cookie?c=${encodeURIComponent('t=1; Path=/')}`,
        session: 'web',
      })
    ).body.dump();
    const shown = await request(`${app.url}/sessions/web`);
    expect(await shown.body.json()).toMatchObject({
      session: 'web',
      cookies: [{ name: 't', value: '1', path: '/' }],
    });
    expect((await request(`${app.url}/sessions/web`, { method: 'DELETE' })).statusCode).toBe(204);
    const gone = await request(`${app.url}/sessions/web`);
    expect(gone.statusCode).toBe(404);
    await gone.body.dump();
  });

  it('serves metrics with fetch outcomes', async () => {
    const text = await app.core.registry.metrics();
    expect(text).toMatch(/fetcher_fetches_total\{via="http",outcome="ok"\} [1-9]/);
    expect(text).toMatch(
      /fetcher_fetches_total\{via="http",outcome="FETCH_DESTINATION_DENIED"\} [1-9]/,
    );
    expect(text).toMatch(/fetcher_body_bytes_total\{kind="wire"\} [1-9]/);
    // The duration histogram: cumulative buckets, +Inf equal to the count.
    expect(text).toContain('# TYPE fetcher_fetch_duration_seconds histogram');
    const sample = (prefix: string) =>
      Number(
        text
          .split('\n')
          .find((line) => line.startsWith(`${prefix} `))
          ?.split(' ')[1],
      );
    const bucket = (le: string) =>
      sample(`fetcher_fetch_duration_seconds_bucket{via="http",le="${le}"}`);
    const count = sample('fetcher_fetch_duration_seconds_count{via="http"}');
    expect(count).toBeGreaterThan(0);
    expect(bucket('+Inf')).toBe(count);
    expect(bucket('0.005')).toBeLessThanOrEqual(bucket('60'));
    expect(bucket('60')).toBeLessThanOrEqual(count);
    expect(text).toMatch(/fetcher_fetch_duration_seconds_sum\{via="http"\} [0-9.e-]+/);
    const health = await request(`${app.url}/healthz`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
  });
});
