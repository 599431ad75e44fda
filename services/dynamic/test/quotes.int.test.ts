import { createServer, type Server } from 'node:http';
import type { Subscription } from '@nats-io/nats-core';
import { connectNats, subjects, type NatsClient } from '@netlab/shared';
import {
  listen,
  silentLogger,
  startNatsServer,
  type NatsServerHandle,
} from '@netlab/shared/testing';
import WebSocket from 'ws';
import { QUOTES_SUBJECT, type QuotesEvent } from '../src/quote-hub';
import { fetchRequest, type RefreshResult } from '../src/quote-refresher';
import { call, startTestApp, type TestApp } from './harness';
import { openSse, openWs } from './live-clients';

/** The quotes upstream: what QUOTES_URL points at, served on a real socket. */
interface Upstream {
  server: Server;
  base: string;
  doc: unknown;
  status: number;
}

/**
 * Stands in for the fetcher (built in parallel): a responder on `netlab.fetcher.fetch` that really
 * GETs the URL it is given and replies with the fetcher's response envelope.
 */
function fetcherStandIn(nats: NatsClient, calls: string[]): Subscription {
  return nats.nc.subscribe(subjects.fetcherFetch, {
    queue: 'fetcher',
    callback: (_err, msg) => {
      void (async () => {
        const req = msg.json<ReturnType<typeof fetchRequest>>();
        calls.push(req.url);
        const res = await fetch(req.url, { method: req.method, headers: req.headers });
        const text = await res.text();
        msg.respond(
          JSON.stringify({ status: res.status, url: req.url, headers: {}, body: { text } }),
        );
      })();
    },
  });
}

describe('quote refresh over NATS and live updates', () => {
  let nats: NatsServerHandle;
  let clientA: NatsClient;
  let clientB: NatsClient;
  let a: TestApp;
  let b: TestApp;
  let up: Upstream;
  let responder: Subscription;
  const fetches: string[] = [];

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: false });
    const connect = (name: string) =>
      connectNats({ servers: [nats.url], name, logger: silentLogger(), maxPendingBytes: 1 << 20 });
    [clientA, clientB] = await Promise.all([connect('a'), connect('b')]);
    up = { server: createServer(), base: '', doc: { quotes: [] }, status: 200 };
    up.server.on('request', (req, res) => {
      if (req.url === '/slow.json') return; // never answers: the fetcher times out, not us
      const body = JSON.stringify(up.doc);
      res.writeHead(up.status, { 'content-type': 'application/json' }).end(body);
    });
    const { port } = await listen(up.server, 0, '127.0.0.1');
    up.base = `http://127.0.0.1:${port}`;
    a = await startTestApp({
      nats: clientA,
      env: { QUOTES_URL: `${up.base}/quotes.json` },
      instance: 'dynamic-a',
    });
    // B shares A's database file, as instances behind the gateway do, with tight limits.
    b = await startTestApp({
      nats: clientB,
      instance: 'dynamic-b',
      env: {
        DATABASE_URL: `sqlite:${(a.config.database as { path: string }).path}`,
        QUOTES_URL: `${up.base}/quotes.json`,
        QUOTES_MAX_ITEMS: '3',
        QUOTES_TIMEOUT: '300ms',
        STREAM_MAX_CLIENTS: '1',
      },
    });
    responder = fetcherStandIn(clientA, fetches);
    await clientA.nc.flush();
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await clientA?.close();
    await clientB?.close();
    up?.server.close();
    await nats?.dispose();
  });

  beforeEach(() => {
    up.status = 200;
    fetches.length = 0;
  });

  it('applies fetched quotes and pushes the changes over NATS, SSE and WebSocket, to both instances', async () => {
    const published: QuotesEvent[] = [];
    const sub = clientB.nc.subscribe(QUOTES_SUBJECT, {
      callback: (_e, m) => {
        published.push(m.json<QuotesEvent>());
      },
    });
    await clientB.nc.flush();
    const sseA = await openSse(`${a.base}/api/stream/quotes`);
    const sseB = await openSse(`${b.base}/api/stream/quotes`);
    const ws = await openWs(`ws://127.0.0.1:${a.port}/ws/quotes`);
    try {
      expect(sseA.status).toBe(200);
      expect((await ws.next((m) => m.type === 'hello')).instance).toBe('dynamic-a');
      up.doc = {
        quotes: [
          { code: '300843', price: 44.44, changePct: 10.47 },
          { code: '600483', price: 38.51 },
          { code: 'NOPE1', price: 1 },
        ],
      };
      const res = await call<RefreshResult>(a.base, 'POST', '/api/quotes/refresh', undefined, {
        'x-request-id': 'refresh-1',
      });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        source: `${up.base}/quotes.json`,
        received: 3,
        updated: 1,
        unchanged: 1,
        unknown: ['NOPE1'],
      });
      expect(res.json.changes).toEqual([
        {
          code: '300843',
          shortName: 'Lotus Media',
          price: 44.44,
          previousPrice: 40.23,
          changePct: 10.47,
          turnoverPct: 1.75,
          high: 44.44,
          date: '2026-11-08',
        },
      ]);
      const has = (e: { changes?: unknown }) => JSON.stringify(e.changes).includes('"price":44.44');
      expect((await sseA.next(has)).instance).toBe('dynamic-a');
      expect((await sseB.next(has)).instance).toBe('dynamic-a');
      expect((await ws.next((m) => m.type === 'quotes' && has(m))).seq).toBeGreaterThan(0);
      expect(published.filter(has)).toHaveLength(1);
      expect(fetches).toEqual([`${up.base}/quotes.json`]);
      const stock = await call<{ price: number }>(b.base, 'GET', '/api/stocks/300843');
      expect(stock.json.price).toBe(44.44);

      const again = await call<RefreshResult>(a.base, 'POST', '/api/quotes/refresh');
      expect(again.json).toMatchObject({ updated: 0, unchanged: 2, changes: [] });
    } finally {
      sub.unsubscribe();
      sseA.close();
      sseB.close();
      ws.ws.close();
    }
  });

  it('shares one fetch among concurrent refreshes', async () => {
    up.doc = { quotes: [{ code: '300843', price: 45 }] };
    const results = await Promise.all(
      [1, 2, 3].map(() => call<RefreshResult>(a.base, 'POST', '/api/quotes/refresh')),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(fetches).toHaveLength(1);
  });

  it('answers 502 QUOTES_FETCH_FAILED when the source fails, QUOTES_INVALID when the document is bad', async () => {
    up.status = 404;
    const failed = await call(a.base, 'POST', '/api/quotes/refresh');
    expect([failed.status, failed.json.code]).toEqual([502, 'QUOTES_FETCH_FAILED']);
    expect(failed.json.detail).toContain('HTTP 404');
    up.status = 200;
    up.doc = {
      quotes: [
        { code: '300843', price: -1 },
        { code: '<b>', price: 'x' },
      ],
    };
    const invalid = await call(a.base, 'POST', '/api/quotes/refresh');
    expect([invalid.status, invalid.json.code]).toEqual([502, 'QUOTES_INVALID']);
    expect(invalid.json.errors?.map((e) => e.field)).toEqual(['0.price', '1.code', '1.price']);
    up.doc = { prices: [] };
    expect((await call(a.base, 'POST', '/api/quotes/refresh')).json.code).toBe('QUOTES_INVALID');
  });

  it('refuses a document with more than QUOTES_MAX_ITEMS quotes and accepts one with exactly that many', async () => {
    up.doc = ['300843', '600483', '601137'].map((code) => ({ code, price: 50 }));
    expect((await call(b.base, 'POST', '/api/quotes/refresh')).status).toBe(200);
    up.doc = ['300843', '600483', '601137', '000709'].map((code) => ({ code, price: 51 }));
    const over = await call(b.base, 'POST', '/api/quotes/refresh');
    expect([over.status, over.json.code]).toEqual([502, 'QUOTES_INVALID']);
    expect(over.json.detail).toContain('QUOTES_MAX_ITEMS');
  });

  it('answers 504 NATS_TIMEOUT past QUOTES_TIMEOUT and 503 NATS_NO_RESPONDERS with no fetcher', async () => {
    const slow = clientA.nc.subscribe(subjects.fetcherFetch, {
      queue: 'slow-fetcher',
      callback: () => undefined,
    });
    responder.unsubscribe();
    await clientA.nc.flush();
    try {
      const timeout = await call(b.base, 'POST', '/api/quotes/refresh');
      expect([timeout.status, timeout.json.code]).toEqual([504, 'NATS_TIMEOUT']);
      slow.unsubscribe();
      await clientA.nc.flush();
      const none = await call(b.base, 'POST', '/api/quotes/refresh');
      expect([none.status, none.json.code]).toEqual([503, 'NATS_NO_RESPONDERS']);
    } finally {
      responder = fetcherStandIn(clientA, fetches);
      await clientA.nc.flush();
    }
  });

  it('answers 503 QUOTES_SOURCE_UNSET without QUOTES_URL and NATS_UNAVAILABLE when standalone', async () => {
    const unset = await startTestApp({ nats: clientA });
    const standalone = await startTestApp({ env: { QUOTES_URL: `${up.base}/quotes.json` } });
    try {
      const a1 = await call(unset.base, 'POST', '/api/quotes/refresh');
      expect([a1.status, a1.json.code]).toEqual([503, 'QUOTES_SOURCE_UNSET']);
      const a2 = await call(standalone.base, 'POST', '/api/quotes/refresh');
      expect([a2.status, a2.json.code]).toEqual([503, 'NATS_UNAVAILABLE']);
    } finally {
      await unset.close();
      await standalone.close();
    }
  });

  it('refuses live clients past STREAM_MAX_CLIENTS with 503 STREAM_FULL, on SSE and WebSocket', async () => {
    const first = await openSse(`${b.base}/api/stream/quotes`);
    try {
      expect(first.status).toBe(200);
      const second = await call(b.base, 'GET', '/api/stream/quotes');
      expect([second.status, second.json.code]).toEqual([503, 'STREAM_FULL']);
      await expect(openWs(`ws://127.0.0.1:${b.port}/ws/quotes`)).rejects.toThrow(
        'upgrade refused: 503',
      );
    } finally {
      first.close();
    }
    const ws = await (async () => {
      for (let i = 0; i < 50; i++) {
        try {
          return await openWs(`ws://127.0.0.1:${b.port}/ws/quotes`);
        } catch {
          await new Promise((r) => setTimeout(r, 20)); // the closed SSE client is still leaving
        }
      }
      throw new Error('no WebSocket slot freed');
    })();
    ws.ws.close();
    await ws.closed();
  });

  it('answers a ping message, and closes with 1009 a message over WS_MAX_PAYLOAD', async () => {
    // On A (WS_MAX_PAYLOAD 4KiB, the default): B allows one live client, still leaving.
    const ws = await openWs(`ws://127.0.0.1:${a.port}/ws/quotes`);
    ws.ws.send('{"type":"ping"}');
    await ws.next((m) => m.type === 'pong');
    ws.ws.send('x'.repeat(4096));
    ws.ws.send('{"type":"ping"}');
    await ws.next(
      (m) => m.type === 'pong' && ws.messages.filter((x) => x.type === 'pong').length === 2,
    );
    ws.ws.send('x'.repeat(4097));
    expect((await ws.closed()).code).toBe(1009);
  });

  it('answers 404 to a WebSocket upgrade anywhere else', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${a.port}/ws/other`);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
    expect(status).toBe(404);
  });
});
