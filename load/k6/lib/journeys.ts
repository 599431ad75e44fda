import { check } from 'k6';
import http, { type RefinedResponse, type ResponseType } from 'k6/http';
import ws from 'k6/ws';
import { connect, type Connection } from 'k6/x/tcp';
import {
  BASE_URL,
  FETCH_TARGET,
  STATIC_LARGE_PATH,
  STATIC_SMALL_PATH,
  TCP_ADDR,
} from './config.ts';

/**
 * What users of the lab do, one function per journey, each request named (tag `name`) so that
 * URLs with ids group into one row, and each answer checked: a wrong body counts like an error.
 */

type Res = RefinedResponse<ResponseType | undefined>;

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' };

export function expectStatus(res: Res, status: number, what: string): boolean {
  return check(res, { [`${what} → ${status}`]: (r) => r.status === status });
}

const get = (path: string, name: string, params: object = {}): Res =>
  http.get(`${BASE_URL}${path}`, { tags: { name }, ...params });

/** Seeded stock codes from the dynamic service, fetched once in setup(). */
export function stockCodes(limit = 100): string[] {
  const res = get(`/api/stocks?limit=${limit}`, 'GET /api/stocks');
  if (res.status !== 200) {
    throw new Error(`setup: GET ${BASE_URL}/api/stocks answered ${res.status}; is the lab up?`);
  }
  const body = res.json() as { items?: { code: string }[] };
  const codes = (body.items ?? []).map((s) => s.code);
  if (codes.length === 0) throw new Error('setup: /api/stocks listed no stocks');
  return codes;
}

export function staticSmall(): void {
  expectStatus(get('/', 'static /'), 200, 'GET / (static)');
  const css = get(STATIC_SMALL_PATH, 'static small');
  expectStatus(css, 200, 'GET static small file');
}

export const hasLargeFile = STATIC_LARGE_PATH !== '' && STATIC_LARGE_PATH !== '-';

/** The large file is read and counted but not kept: responseType none. */
export function staticLarge(): void {
  if (!hasLargeFile) return;
  const res = get(STATIC_LARGE_PATH, 'static large', { responseType: 'none' });
  expectStatus(res, 200, 'GET static large file');
}

/** A conditional GET: the static server must answer 304 to its own ETag. */
export function staticRevalidate(): void {
  const first = get(STATIC_SMALL_PATH, 'static small');
  const etag = first.headers['Etag'];
  if (typeof etag !== 'string') {
    check(first, { 'static small file has an ETag': () => false });
    return;
  }
  const again = get(STATIC_SMALL_PATH, 'static small (If-None-Match)', {
    headers: { 'if-none-match': etag },
  });
  expectStatus(again, 304, 'GET static small file with If-None-Match');
}

export function pages(): void {
  const index = get('/index.html', 'GET /index.html');
  expectStatus(index, 200, 'GET /index.html');
  check(index, {
    '/index.html lists stocks': (r) => typeof r.body === 'string' && r.body.includes('<table'),
  });
  expectStatus(
    get('/index.html?page=2&sort=-changePct', 'GET /index.html?page'),
    200,
    'GET /index.html page 2',
  );
  expectStatus(get('/center.html', 'GET /center.html'), 200, 'GET /center.html');
}

export function apiReads(code: string): void {
  const list = get('/api/stocks?limit=20', 'GET /api/stocks');
  expectStatus(list, 200, 'GET /api/stocks');
  const one = get(`/api/stocks/${code}`, 'GET /api/stocks/:code');
  expectStatus(one, 200, 'GET /api/stocks/:code');
  check(one, { 'stock has its code': (r) => (r.json() as { code?: string }).code === code });
}

/** Follow, note, read, unfollow. A 409 on follow means a previous iteration was cut short. */
export function focusCrud(code: string): void {
  const created = http.post(`${BASE_URL}/api/focus`, JSON.stringify({ code, note: 'k6' }), {
    headers: JSON_HEADERS,
    tags: { name: 'POST /api/focus' },
    responseCallback: http.expectedStatuses(201, 409),
  });
  check(created, { 'POST /api/focus → 201 or 409': (r) => r.status === 201 || r.status === 409 });
  const noted = http.patch(
    `${BASE_URL}/api/focus/${code}`,
    JSON.stringify({ note: `k6 ${Date.now()}` }),
    { headers: JSON_HEADERS, tags: { name: 'PATCH /api/focus/:code' } },
  );
  expectStatus(noted, 200, 'PATCH /api/focus/:code');
  expectStatus(get(`/api/focus/${code}`, 'GET /api/focus/:code'), 200, 'GET /api/focus/:code');
  const gone = http.del(`${BASE_URL}/api/focus/${code}`, null, {
    headers: JSON_HEADERS,
    tags: { name: 'DELETE /api/focus/:code' },
  });
  expectStatus(gone, 204, 'DELETE /api/focus/:code');
}

/** One fetch through the fetcher (POST /fetch), of a URL the lab allows. */
export function fetchThroughFetcher(): void {
  const res = http.post(
    `${BASE_URL}/fetch`,
    JSON.stringify({ url: FETCH_TARGET, response: { as: 'none' } }),
    { headers: JSON_HEADERS, tags: { name: 'POST /fetch' } },
  );
  expectStatus(res, 200, 'POST /fetch');
  check(res, {
    'the fetched URL answered 200': (r) => (r.json() as { status?: number }).status === 200,
  });
}

const wsBase = BASE_URL.replace(/^http/, 'ws');

/** A live-quotes subscription over WebSocket: connect, ping, expect the pong, leave. */
export function liveQuotesWs(): void {
  let pong = false;
  const res = ws.connect(`${wsBase}/ws/quotes`, { tags: { name: 'WS /ws/quotes' } }, (socket) => {
    socket.on('open', () => socket.send('{"type":"ping"}'));
    socket.on('message', (message: string) => {
      if (message.includes('"pong"')) {
        pong = true;
        socket.close();
      }
    });
    socket.setTimeout(() => socket.close(), 3000);
  });
  check(res, {
    'WS /ws/quotes → 101': (r) => r.status === 101,
    'WS /ws/quotes answers ping with pong': () => pong,
  });
}

const HTTP_200 = 'HTTP/1.1 200';

/**
 * The SSE stream never ends, so k6's http client cannot wait for it: open it on a raw socket and
 * check the status line, then leave.
 */
export function liveQuotesSse(): void {
  const { host, port } = hostPort(BASE_URL);
  let ok = false;
  let conn: Connection | undefined;
  try {
    conn = connect(`${host}:${port}`, { timeout: '3s' });
    conn.write(
      `GET /api/stream/quotes HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n\r\n`,
    );
    ok =
      String.fromCharCode(...new Uint8Array(conn.read(HTTP_200.length, { timeout: '3s' }))) ===
      HTTP_200;
  } catch {
    ok = false;
  } finally {
    conn?.close();
  }
  check(null, { 'GET /api/stream/quotes → 200 (SSE)': () => ok });
}

function hostPort(url: string): { host: string; port: string } {
  const m = /^https?:\/\/([^/:]+)(?::(\d+))?/.exec(url);
  if (m === null) throw new Error(`BASE_URL=${url}: expected http://host[:port]`);
  return { host: m[1]!, port: m[2] ?? '80' };
}

/** 64-byte payloads: the size of BENCHMARKING.md's TCP echo figures. */
const PAYLOAD = 'netlab k6 tcp-echo round trip, 64 bytes of payload, every byte!\n';

/**
 * Echo round trips on a connection this VU keeps open across iterations (like a real client),
 * reconnecting after a failure. Each round trip is checked byte for byte.
 */
let echoConn: Connection | undefined;
export function tcpEcho(roundTrips: number): void {
  let ok = 0;
  try {
    echoConn ??= connect(TCP_ADDR, { timeout: '3s' });
    for (let i = 0; i < roundTrips; i++) if (echoConn.roundTrip(PAYLOAD, { timeout: '3s' })) ok++;
  } catch {
    echoConn?.close();
    echoConn = undefined;
  }
  check(null, { 'tcp-echo echoes every byte': () => ok === roundTrips });
}

export function closeTcpEcho(): void {
  echoConn?.close();
  echoConn = undefined;
}

/** The WSGI/ASGI pair: the same wait, blocking the event loop or awaited. */
export function slow(kind: 'blocking' | 'async', ms: number): void {
  const res = get(`/api/slow/${kind}?ms=${ms}`, `GET /api/slow/${kind}`, {
    tags: { name: `GET /api/slow/${kind}`, kind },
  });
  expectStatus(res, 200, `GET /api/slow/${kind}`);
}
