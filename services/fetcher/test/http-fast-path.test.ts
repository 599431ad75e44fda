import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { createLogger } from '@netlab/shared';
import { waitFor } from '@netlab/shared/testing';
import { Client, Pool, request, type Dispatcher } from 'undici';
import { FAST_PATH_MAX_ENVELOPE } from '../src/http-api';
import { startApp, type App } from './fixtures/app';
import { startUpstream, type Upstream } from './fixtures/fetcher';
import { createRoutes, type Routes } from './fixtures/routes';

/**
 * `POST /fetch` on the fast path (shared/src/fast-path.ts): the same answers as node:http gives
 * (an app with FETCH_FAST_PATH=false, side by side), and everything else still served by
 * node:http on the same port.
 */

let routes: Routes;
let up: Upstream;
let fast: App;
let slow: App;

beforeAll(async () => {
  routes = createRoutes();
  up = await startUpstream(routes.handler);
  fast = await startApp();
  slow = await startApp({ FETCH_FAST_PATH: 'false' });
});

afterAll(async () => {
  routes.close();
  await fast.close();
  await slow.close();
  await up.close();
});

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** An answer with what differs between any two fetches masked: times, dates, made-up ids. */
async function ask(
  app: App,
  body: string,
  headers: Record<string, string | string[]>,
): Promise<Answer> {
  const res = await request(`${app.url}/fetch`, { method: 'POST', headers, body });
  const text = await res.body.text();
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    // Announced alike by both servers, in their own letter case; the date moves.
    if (['date', 'connection', 'keep-alive'].includes(name)) continue;
    // The length follows the times' digits: checked against the body instead.
    if (name === 'content-length') {
      expect(Number(value)).toBe(Buffer.byteLength(text));
      continue;
    }
    out[name] = String(value);
  }
  if (/^[0-9a-f]{12}-\d+$/.test(out['x-request-id'] ?? '')) out['x-request-id'] = '(made)';
  return {
    status: res.statusCode,
    headers: out,
    body: JSON.parse(
      text
        .replace(/"(elapsedMs|totalMs)":[0-9.]+/g, '"$1":0')
        .replace(/"date":"[^"]*"/g, '"date":""'),
    ),
  };
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** Requests of every kind of answer: a fetch, an upstream's error, and each kind of refusal. */
const cases: [string, () => string, Record<string, string | string[]>][] = [
  ['a fetch', () => JSON.stringify({ url: `${up.url}/echo` }), JSON_TYPE],
  ['an upstream 404', () => JSON.stringify({ url: `${up.url}/echo?status=404` }), JSON_TYPE],
  [
    'a fetch with a request id',
    () => JSON.stringify({ url: `${up.url}/echo`, params: { a: ['1', '2'] } }),
    { ...JSON_TYPE, 'x-request-id': 'trace-fast' },
  ],
  [
    // node:http joins the two ("a, b"), which is no valid id: a new one is made.
    'a fetch with two request ids',
    () => JSON.stringify({ url: `${up.url}/echo` }),
    { ...JSON_TYPE, 'x-request-id': ['trace-1', 'trace-2'] },
  ],
  ['an invalid envelope', () => JSON.stringify({ url: 7, method: 'NOPE' }), JSON_TYPE],
  ['a body that is not JSON', () => '{"url":', JSON_TYPE],
  ['a body of another type', () => 'url=x', { 'content-type': 'text/plain' }],
  ['a denied destination', () => JSON.stringify({ url: 'http://169.254.169.254/' }), JSON_TYPE],
  ['a scheme not fetched', () => JSON.stringify({ url: 'file:///etc/passwd' }), JSON_TYPE],
];

describe('POST /fetch on the fast path', () => {
  it.each(cases)('answers %s as node:http does', async (_name, body, headers) => {
    const served = fast.http.fastPath!.served();
    const [viaFast, viaNode] = [await ask(fast, body(), headers), await ask(slow, body(), headers)];
    expect(viaFast).toEqual(viaNode);
    expect(fast.http.fastPath!.served()).toBe(served + 1);
  });

  it('is off with FETCH_FAST_PATH=false', () => {
    expect(slow.http.fastPath).toBeUndefined();
  });

  // A FIN, not a reset: node:http takes a half-close as the caller leaving (httpAllowHalfOpen
  // false), and so does the fast path (halfCloseAborts).
  it.each([
    ['the fast path', () => fast, 1],
    ['node:http', () => slow, 0],
  ] as const)(
    'cancels the fetch when the caller half-closes before the reply (%s)',
    async (_name, app, taken) => {
      const served = fast.http.fastPath!.served();
      await leaveEarly(app(), () => {
        expect(fast.http.fastPath!.served()).toBe(served + taken);
      });
    },
  );
});

/**
 * A caller that sends a fetch of an upstream that never answers and half-closes once the upstream
 * has the request (`whileRunning` runs then); resolves when the fetch was cancelled: its upstream
 * connection closed and its concurrency slot free.
 */
async function leaveEarly(app: App, whileRunning: () => void = () => undefined): Promise<void> {
  let seen = false;
  let upstreamClosed = false;
  const silent = await startUpstream((req) => {
    seen = true;
    req.socket.once('close', () => (upstreamClosed = true));
  });
  try {
    const socket = connect({
      port: Number(new URL(app.url).port),
      host: '127.0.0.1',
      allowHalfOpen: true,
    });
    const body = JSON.stringify({ url: silent.url });
    socket.write(
      `POST /fetch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
    await waitFor('the upstream to get the request', () => seen);
    whileRunning();
    socket.end();
    await waitFor(
      'the upstream connection to close and the slot to be free',
      () => upstreamClosed && app.core.limiter.stats().running === 0,
    );
    socket.destroy();
  } finally {
    await silent.close();
  }
}

describe('request log lines (LOG_LEVEL=info)', () => {
  /** An app whose request lines (component http) are kept, parsed. */
  const logged = async (env: Record<string, string>) => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      service: 'fetcher',
      instance: 'test',
      level: 'info',
      destination: {
        write: (line: string) => {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (parsed.component === 'http') lines.push(parsed);
        },
      },
    });
    return { app: await startApp(env, logger), lines };
  };
  let withFast: Awaited<ReturnType<typeof logged>>;
  let withNode: Awaited<ReturnType<typeof logged>>;

  beforeAll(async () => {
    withFast = await logged({});
    withNode = await logged({ FETCH_FAST_PATH: 'false' });
  });

  afterAll(async () => {
    await withFast.app.close();
    await withNode.app.close();
  });

  /**
   * The line, without what differs between any two requests (times, ports, lengths, made ids,
   * where a stack was made) and the one header the two servers choose differently: node:http
   * closes a connection whose envelope it refused unread, while the fast path has read it whole
   * and keeps the connection (`ask` above leaves out `connection` for the same reason).
   */
  const masked = (line: Record<string, unknown> | undefined) => {
    const res = line?.res as { headers?: Record<string, unknown> } | undefined;
    delete res?.headers?.connection;
    const err = line?.err as { stack?: string } | undefined;
    if (err !== undefined) err.stack = '';
    const text = JSON.stringify(line ?? null)
      .replace(/"(time|responseTime|remotePort)":("[^"]*"|\d+)/g, '"$1":0')
      .replace(/"content-length":"\d+"/g, '"content-length":"0"')
      .replace(/"host":"127\.0\.0\.1:\d+"/, '"host":"127.0.0.1"')
      .replace(/"[0-9a-f]{12}-\d+"/g, '"(made)"');
    return JSON.parse(text) as unknown;
  };

  const lastLine = async (side: typeof withFast) => {
    await waitFor('the request line', () => side.lines.length > 0);
    expect(side.lines).toHaveLength(1);
    return masked(side.lines.pop());
  };

  it.each([
    ...cases,
    ['an upstream that refuses', () => JSON.stringify({ url: 'http://127.0.0.1:1/' }), JSON_TYPE],
  ] as typeof cases)('are the same for %s as node:http writes', async (_name, body, headers) => {
    const served = withFast.app.http.fastPath!.served();
    for (const side of [withFast, withNode]) {
      const res = await request(`${side.app.url}/fetch`, { method: 'POST', headers, body: body() });
      await res.body.dump();
    }
    expect(withFast.app.http.fastPath!.served()).toBe(served + 1);
    const [viaFast, viaNode] = [await lastLine(withFast), await lastLine(withNode)];
    expect(viaFast).toEqual(viaNode);
    expect(viaFast).toMatchObject({ req: { method: 'POST', url: '/fetch' } });
  });

  it('are the same when the caller leaves before the reply ("request aborted")', async () => {
    const served = withFast.app.http.fastPath!.served();
    await leaveEarly(withFast.app);
    await leaveEarly(withNode.app);
    expect(withFast.app.http.fastPath!.served()).toBe(served + 1);
    const [viaFast, viaNode] = [await lastLine(withFast), await lastLine(withNode)];
    expect(viaFast).toEqual(viaNode);
    expect(viaFast).toMatchObject({ msg: 'request aborted', res: { statusCode: null } });
  });
});

describe('what the fast path leaves to node:http', () => {
  // A connection handed to node:http stays node:http's: one connection per request here.
  const fresh = async (
    path: string,
    opts: Omit<Dispatcher.RequestOptions, 'path' | 'method'> & {
      method?: Dispatcher.HttpMethod;
    } = {},
  ) => {
    const client = new Client(fast.url);
    try {
      const res = await client.request({ path, method: 'GET', ...opts });
      const text = await res.body.text();
      return { statusCode: res.statusCode, text };
    } finally {
      await client.close();
    }
  };

  it('serves an envelope over FAST_PATH_MAX_ENVELOPE, health and other routes on the same port', async () => {
    const handedOff = fast.http.fastPath!.handedOff();
    const big = JSON.stringify({
      url: `${up.url}/echo`,
      method: 'POST',
      json: { pad: 'p'.repeat(FAST_PATH_MAX_ENVELOPE) },
    });
    const res = await fresh('/fetch', {
      method: 'POST',
      headers: JSON_TYPE,
      body: big,
    });
    expect(res.statusCode).toBe(200);
    expect((JSON.parse(res.text) as { status: number }).status).toBe(200);
    const health = await fresh('/healthz');
    expect(health.statusCode).toBe(200);
    const list = await fresh('/downloads');
    expect(list.statusCode).toBe(200);
    expect(fast.http.fastPath!.handedOff()).toBe(handedOff + 3);
  });

  it('serves a chunked envelope through node:http', async () => {
    const handedOff = fast.http.fastPath!.handedOff();
    const body = JSON.stringify({ url: `${up.url}/echo` });
    const res = await fresh('/fetch', {
      method: 'POST',
      headers: JSON_TYPE,
      // A stream has no length: undici sends it chunked.
      body: Readable.from([body.slice(0, 5), body.slice(5)]),
    });
    expect(res.statusCode).toBe(200);
    expect(fast.http.fastPath!.handedOff()).toBe(handedOff + 1);
  });
});

describe('closing', () => {
  it('closes idle fast-path connections and lets a running fetch finish first', async () => {
    const app = await startApp();
    const pool = new Pool(app.url, { connections: 2 });
    try {
      const idle = await pool.request({
        path: '/fetch',
        method: 'POST',
        headers: JSON_TYPE,
        body: JSON.stringify({ url: `${up.url}/echo` }),
      });
      await idle.body.dump();
      const running = pool.request({
        path: '/fetch',
        method: 'POST',
        headers: JSON_TYPE,
        body: JSON.stringify({ url: `${up.url}/slow?ms=300` }),
      });
      await waitFor('the slow fetch to run', () => app.core.limiter.stats().running === 1);
      expect(app.http.fastPath!.open()).toBe(2);
      const closed = app.http.close(5_000);
      const res = await running;
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      await expect(closed).resolves.toBe(true);
      expect(app.http.fastPath!.open()).toBe(0);
    } finally {
      await pool.close();
      await app.close();
    }
  });
});
