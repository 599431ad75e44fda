import { createServer as createNetServer } from 'node:net';
import { Agent, request } from 'undici';
import { listen, waitFor } from '@netlab/shared/testing';
import { classifyUpstreamError } from '../src/http-proxy';
import {
  addUpstream,
  problemOf,
  rawExchange,
  startGateway,
  startUpstream,
  type RunningGateway,
  type Upstream,
} from './helpers';

jest.setTimeout(20_000);

// One client pool per file, closed at the end, so no keep-alive connection outlives the tests.
const agent = new Agent({ keepAliveTimeout: 1000 });
afterAll(() => agent.close());

const get = (url: string, opts: Omit<Parameters<typeof request>[1] & object, 'dispatcher'> = {}) =>
  request(url, { ...opts, dispatcher: agent });

describe('routing and forwarding', () => {
  let gw: RunningGateway;
  let stat: Upstream;
  let dyn: Upstream;
  let fetcher: Upstream;

  beforeAll(async () => {
    gw = await startGateway();
    [stat, dyn, fetcher] = await Promise.all([
      startUpstream('static'),
      startUpstream('dynamic'),
      startUpstream('fetcher'),
    ]);
    await addUpstream(gw.gateway, 'static', stat);
    await addUpstream(gw.gateway, 'dynamic', dyn);
    await addUpstream(gw.gateway, 'fetcher', fetcher);
  });
  afterAll(async () => {
    await gw.close();
    await Promise.all([stat.close(), dyn.close(), fetcher.close()]);
  });

  it.each([
    ['/index.html', 'dynamic'],
    ['/api/stocks?code=600000', 'dynamic'],
    ['/openapi.json', 'dynamic'],
    ['/fetch?url=x', 'fetcher'],
    ['/downloads/1', 'fetcher'],
    ['/css/site.css', 'static'],
  ])('sends %s to %s by the default table', async (path, service) => {
    const res = await get(`${gw.url}${path}`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toMatchObject({ upstream: service, url: path });
  });

  it.each([
    ['/x/../api/stocks', '/api/stocks'],
    ['/%2e%2e/api/stocks', '/api/stocks'],
    ['/css/%2E%2E/api//stocks?q=1', '/api/stocks?q=1'],
  ])('normalises %s before matching and forwards %s', async (target, forwarded) => {
    const before = dyn.seen.length;
    const res = await rawExchange(
      gw.port,
      `GET ${target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`,
    );
    expect(res.status).toBe(200);
    expect(dyn.seen.slice(before).map((s) => s.url)).toEqual([forwarded]);
  });

  it('refuses an encoded slash with GATEWAY_BAD_PATH before any upstream sees it', async () => {
    const seen = stat.seen.length + dyn.seen.length;
    const res = await get(`${gw.url}/css/..%2F..%2Fapi/x`);
    expect(res.statusCode).toBe(400);
    expect(await problemOf(res)).toMatchObject({ code: 'GATEWAY_BAD_PATH', status: 400 });
    expect(stat.seen.length + dyn.seen.length).toBe(seen);
  });

  it('strips hop-by-hop headers and those named in Connection, both ways', async () => {
    const hop = await startUpstream('hop', (req, res) => {
      res.writeHead(200, {
        connection: 'x-internal',
        'x-internal': 'secret',
        'keep-alive': 'timeout=99',
        'proxy-connection': 'keep-alive',
        'x-kept': 'yes',
      });
      res.end('ok');
    });
    const g = await startGateway({ routes: [{ name: 'hop', prefix: '/', service: 'hop' }] });
    try {
      await addUpstream(g.gateway, 'hop', hop);
      const res = await rawExchange(
        g.port,
        [
          'GET /h HTTP/1.1',
          'Host: t',
          'Connection: x-secret, close',
          'X-Secret: 1',
          'Keep-Alive: 300',
          'Proxy-Authorization: Basic Zm9vOmJhcg==',
          'Proxy-Connection: keep-alive',
          'TE: trailers',
          'Upgrade: h2c',
          'X-Kept: yes',
          '',
          '',
        ].join('\r\n'),
      );
      const seen = hop.seen.at(-1)!.headers;
      for (const h of [
        'x-secret',
        'keep-alive',
        'proxy-authorization',
        'proxy-connection',
        'te',
        'upgrade',
      ]) {
        expect(seen[h]).toBeUndefined();
      }
      expect(seen['x-kept']).toBe('yes');
      const head = res.text.split('\r\n\r\n')[0]!.toLowerCase();
      expect(head).toContain('x-kept: yes');
      expect(head).not.toContain('x-internal');
      expect(head).not.toContain('timeout=99');
      expect(head).not.toContain('proxy-connection');
    } finally {
      await g.close();
      await hop.close();
    }
  });

  it('sets forwarding headers from the real peer and ignores what an untrusted client claims', async () => {
    await get(`${gw.url}/api/who`, {
      headers: {
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
        forwarded: 'for=6.6.6.6;proto=https',
        'x-real-ip': '6.6.6.6',
        via: '1.0 somewhere',
      },
    }).then((r) => r.body.dump());
    const h = dyn.seen.at(-1)!.headers;
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe(`127.0.0.1:${gw.port}`);
    expect(h.forwarded).toBe(`for=127.0.0.1;host="127.0.0.1:${gw.port}";proto=http`);
    expect(h['x-real-ip']).toBeUndefined();
    // Via is end-to-end: kept, and extended.
    expect(h.via).toBe('1.0 somewhere, 1.1 netlab-gateway');
    expect(h.host).toBe(`127.0.0.1:${gw.port}`);
  });

  it('generates an x-request-id, or carries a sane one through, both ways', async () => {
    const fresh = await get(`${gw.url}/api/id`);
    await fresh.body.dump();
    const generated = fresh.headers['x-request-id'] as string;
    expect(generated).toMatch(/^[0-9a-f]{12}-\d+$/);
    expect(dyn.seen.at(-1)!.headers['x-request-id']).toBe(generated);

    const carried = await get(`${gw.url}/api/id`, { headers: { 'x-request-id': 'trace-42' } });
    await carried.body.dump();
    expect(carried.headers['x-request-id']).toBe('trace-42');
    expect(dyn.seen.at(-1)!.headers['x-request-id']).toBe('trace-42');

    const insane = await get(`${gw.url}/api/id`, { headers: { 'x-request-id': 'a b\tc' } });
    await insane.body.dump();
    expect(insane.headers['x-request-id']).not.toBe('a b\tc');
  });

  it('refuses two Host headers and an unknown transfer coding with 400', async () => {
    const before = stat.seen.length;
    const dup = await rawExchange(gw.port, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    expect(dup.status).toBe(400);
    expect(dup.text).toContain('GATEWAY_BAD_REQUEST');
    const te = await rawExchange(
      gw.port,
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    );
    expect(te.status).toBe(400);
    expect(stat.seen.length).toBe(before);
  });

  it('serves its own endpoints under /-/ and never routes them upstream', async () => {
    const health = await get(`${gw.url}/-/healthz`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();

    const routes = (await (await get(`${gw.url}/-/routes`)).body.json()) as {
      source: string;
      routes: { name: string; service: string }[];
    };
    expect(routes.source).toBe('default');
    expect(routes.routes.map((r) => r.name)).toEqual([
      'pages',
      'api',
      'docs',
      'openapi',
      'ws',
      'fetch',
      'downloads',
      'sessions',
      'static',
    ]);

    const ups = (await (await get(`${gw.url}/-/upstreams`)).body.json()) as {
      services: Record<string, { http: string; state: string; requests: number }[]>;
    };
    expect(ups.services.dynamic).toEqual([
      expect.objectContaining({ http: dyn.url, state: 'healthy' }),
    ]);
    expect(ups.services.dynamic![0]!.requests).toBeGreaterThan(0);

    const metrics = await (await get(`${gw.url}/-/metrics`)).body.text();
    expect(metrics).toMatch(
      /gateway_requests_total\{route="api",upstream="dynamic",status="200"[^}]*\} \d+/,
    );
    expect(metrics).toMatch(
      /gateway_request_duration_seconds_bucket\{route="api",upstream="dynamic",status="200",le="\+Inf"/,
    );
    expect(metrics).toMatch(/gateway_rejected_total\{reason="bad_path"[^}]*\} [1-9]/);

    const post = await get(`${gw.url}/-/routes`, { method: 'POST', body: 'x' });
    expect(post.statusCode).toBe(405);
    expect(await problemOf(post)).toMatchObject({ code: 'GATEWAY_METHOD_NOT_ALLOWED' });
    const unknown = await get(`${gw.url}/-/nothing`);
    expect(unknown.statusCode).toBe(404);
    await unknown.body.dump();
    expect(stat.seen.some((s) => s.url.startsWith('/-/'))).toBe(false);
  });
});

describe('answers when there is nowhere to go', () => {
  it('says GATEWAY_NO_ROUTE (404) when no route matches', async () => {
    const gw = await startGateway({
      routes: [{ name: 'only', prefix: '/api', service: 'dynamic' }],
    });
    try {
      const res = await get(`${gw.url}/elsewhere`);
      expect(res.statusCode).toBe(404);
      expect(await problemOf(res)).toMatchObject({ code: 'GATEWAY_NO_ROUTE' });
    } finally {
      await gw.close();
    }
  });

  it('says GATEWAY_NO_UPSTREAM (503, Retry-After) with no instance, or none healthy, naming the route', async () => {
    const gw = await startGateway();
    const up = await startUpstream('static');
    try {
      const none = await get(`${gw.url}/x`);
      expect(none.statusCode).toBe(503);
      expect(none.headers['retry-after']).toBe('1');
      expect(await problemOf(none)).toMatchObject({
        code: 'GATEWAY_NO_UPSTREAM',
        route: 'static',
        upstream: 'static',
        detail: 'No instance of static is known.',
      });

      await addUpstream(gw.gateway, 'static', up);
      up.ready = false;
      await waitFor('the instance to fail its readiness', () =>
        gw.gateway.upstreams.list('static').every((i) => i.state === 'unhealthy'),
      );
      const unhealthy = await get(`${gw.url}/x`);
      expect(unhealthy.statusCode).toBe(503);
      expect(await problemOf(unhealthy)).toMatchObject({
        detail: 'None of the 1 instance(s) of static is healthy.',
      });
      expect(up.seen).toHaveLength(0);
    } finally {
      await gw.close();
      await up.close();
    }
  });
});

describe('trusted proxies', () => {
  it('keeps and extends forwarding headers from a trusted peer, and limits the real client', async () => {
    const gw = await startGateway({
      settings: {
        trustedProxies: [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' }],
        rateLimit: 1,
        rateBurst: 1,
      },
    });
    const up = await startUpstream('static');
    try {
      await addUpstream(gw.gateway, 'static', up);
      const res = await get(`${gw.url}/x`, {
        headers: {
          'x-forwarded-for': '203.0.113.7',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'shop.example',
          forwarded: 'for=203.0.113.7;proto=https',
        },
      });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      const h = up.seen.at(-1)!.headers;
      expect(h['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
      expect(h['x-forwarded-proto']).toBe('https');
      expect(h['x-forwarded-host']).toBe('shop.example');
      expect(h.forwarded).toBe(
        `for=203.0.113.7;proto=https, for=127.0.0.1;host="127.0.0.1:${gw.port}";proto=http`,
      );
      // RATE_LIMIT applies per client: the one behind the proxy, not the proxy itself.
      const again = await get(`${gw.url}/x`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
      expect(again.statusCode).toBe(429);
      await again.body.dump();
      const other = await get(`${gw.url}/x`, { headers: { 'x-forwarded-for': '203.0.113.8' } });
      expect(other.statusCode).toBe(200);
      await other.body.dump();
    } finally {
      await gw.close();
      await up.close();
    }
  });
});

describe('the served-by header', () => {
  it('is off by default and tells route, instance and time when switched on', async () => {
    const up = await startUpstream('static');
    const off = await startGateway();
    const on = await startGateway({ settings: { servedByHeader: true } });
    try {
      await addUpstream(off.gateway, 'static', up);
      await addUpstream(on.gateway, 'static', up);
      const a = await get(`${off.url}/x`);
      await a.body.dump();
      expect(a.headers['x-served-by']).toBeUndefined();
      const b = await get(`${on.url}/x`);
      await b.body.dump();
      expect(b.headers['x-served-by']).toBe(`route=static; upstream=static; instance=${up.url}`);
      expect(b.headers['server-timing']).toMatch(/^upstream;dur=\d+\.\d$/);
    } finally {
      await Promise.all([off.close(), on.close()]);
      await up.close();
    }
  });
});

describe('upstream faults', () => {
  it('answers 502 GATEWAY_UPSTREAM_UNREACHABLE for a closed port, and ejects the instance', async () => {
    const gw = await startGateway({ settings: { retries: 0 } });
    const up = await startUpstream('static');
    try {
      await addUpstream(gw.gateway, 'static', up);
      await up.close();
      const res = await get(`${gw.url}/x`);
      expect(res.statusCode).toBe(502);
      expect(await problemOf(res)).toMatchObject({
        code: 'GATEWAY_UPSTREAM_UNREACHABLE',
        route: 'static',
        retryable: true,
      });
      expect(gw.gateway.upstreams.list('static')[0]!.state).not.toBe('healthy');
    } finally {
      await gw.close();
    }
  });

  it('answers 504 GATEWAY_UPSTREAM_TIMEOUT when the upstream stays silent past the route timeout', async () => {
    const gw = await startGateway({
      routes: [{ name: 'slow', prefix: '/', service: 'static', timeouts: { headers: 300 } }],
    });
    const up = await startUpstream('static', () => undefined);
    try {
      await addUpstream(gw.gateway, 'static', up);
      const res = await get(`${gw.url}/hang`);
      expect(res.statusCode).toBe(504);
      expect(await problemOf(res)).toMatchObject({
        code: 'GATEWAY_UPSTREAM_TIMEOUT',
        route: 'slow',
      });
      // A timeout is not retried: the one instance saw the request once.
      expect(up.seen).toHaveLength(1);
    } finally {
      await gw.close();
      await up.close();
    }
  });

  it('answers 502 GATEWAY_UPSTREAM_BAD_RESPONSE when the upstream sends garbage', async () => {
    const ok = await startUpstream('static');
    const garbage = createNetServer((s) => {
      s.on('data', (d: Buffer) => {
        if (/^GET \S*readyz/.test(d.toString()))
          s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        else s.end('NONSENSE 200 maybe\r\n\r\n');
      });
    });
    const { port } = await listen(garbage, 0, '127.0.0.1');
    const gw = await startGateway({ settings: { retries: 0 } });
    try {
      gw.gateway.upstreams.add({ service: 'static', http: `http://127.0.0.1:${port}` }, 'static');
      await waitFor('the garbage upstream to pass its probe', () =>
        gw.gateway.upstreams.list('static').every((i) => i.state === 'healthy'),
      );
      const res = await get(`${gw.url}/x`);
      expect(res.statusCode).toBe(502);
      expect(await problemOf(res)).toMatchObject({ code: 'GATEWAY_UPSTREAM_BAD_RESPONSE' });
    } finally {
      await gw.close();
      garbage.close();
      await ok.close();
    }
  });

  it('cuts the client when the upstream dies mid-body: never a short 200', async () => {
    const up = await startUpstream('static', (req, res) => {
      res.writeHead(200, { 'content-length': '1000000' });
      res.write(Buffer.alloc(10_000, 1));
      setTimeout(() => req.socket.destroy(), 50);
    });
    const chunked = await startUpstream('dynamic', (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part');
      setTimeout(() => req.socket.destroy(), 50);
    });
    const gw = await startGateway();
    try {
      await addUpstream(gw.gateway, 'static', up);
      await addUpstream(gw.gateway, 'dynamic', chunked);
      for (const path of ['/big', '/api/stream']) {
        const res = await get(`${gw.url}${path}`);
        expect(res.statusCode).toBe(200);
        await expect(res.body.arrayBuffer()).rejects.toThrow();
      }
    } finally {
      await gw.close();
      await Promise.all([up.close(), chunked.close()]);
    }
  });

  it('closes the client connection when the upstream answers before reading the whole body', async () => {
    const early = await startUpstream('static', (_req, res) => {
      res.statusCode = 413;
      res.end('too big for me');
    });
    const gw = await startGateway({ settings: { maxBodySize: 64 * 1024 * 1024 } });
    try {
      await addUpstream(gw.gateway, 'static', early);
      const res = await get(`${gw.url}/upload`, {
        method: 'POST',
        body: Buffer.alloc(16 * 1024 * 1024),
      });
      expect(res.statusCode).toBe(413);
      expect(res.headers.connection).toBe('close');
      expect(await res.body.text()).toBe('too big for me');
    } finally {
      await gw.close();
      await early.close();
    }
  });

  describe('retries', () => {
    let gw: RunningGateway;
    let flaky: Upstream;
    let good: Upstream;
    beforeEach(async () => {
      gw = await startGateway({ settings: { balancer: 'round-robin', ejectAfter: 100 } });
      // Takes the whole request, then resets the connection without a word.
      flaky = await startUpstream('flaky', (req) => {
        req.resume();
        req.on('end', () => req.socket.destroy());
      });
      good = await startUpstream('good');
      await addUpstream(gw.gateway, 'static', flaky, good);
    });
    afterEach(async () => {
      await gw.close();
      await Promise.all([flaky.close(), good.close()]);
    });

    it('retries a GET once on another instance after a reset', async () => {
      for (let i = 0; i < 4; i++) {
        const res = await get(`${gw.url}/g${i}`);
        expect(res.statusCode).toBe(200);
        await res.body.dump();
      }
      // Round robin: flaky got every other first attempt, and each went on to good.
      expect(flaky.seen.length).toBeGreaterThanOrEqual(2);
      expect(good.seen.map((s) => s.url)).toEqual(['/g0', '/g1', '/g2', '/g3']);
    });

    it('never replays a POST that reached an instance', async () => {
      const results: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await get(`${gw.url}/p${i}`, { method: 'POST', body: `body ${i}` });
        results.push(res.statusCode);
        await res.body.dump();
      }
      const failed = results.filter((s) => s === 502).length;
      expect(failed).toBe(flaky.seen.length);
      expect(failed).toBeGreaterThanOrEqual(2);
      // Every POST was sent exactly once, to one instance.
      expect(flaky.seen.length + good.seen.length).toBe(4);
    });

    it('sends a POST elsewhere when the connection was refused (nothing was sent)', async () => {
      await flaky.close();
      const bodies: string[] = [];
      const posted = await startUpstream('good2', (req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (d: string) => (body += d));
        req.on('end', () => {
          bodies.push(body);
          res.end('ok');
        });
      });
      gw.gateway.upstreams.remove(
        gw.gateway.upstreams.list('static').find((i) => i.http === good.url)!,
        'static',
      );
      await addUpstream(gw.gateway, 'static', posted);
      const res = await get(`${gw.url}/p`, { method: 'POST', body: 'x'.repeat(100_000) });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      expect(bodies).toEqual(['x'.repeat(100_000)]);
      await posted.close();
    });

    it('does not retry when the route says retries: 0', async () => {
      gw.gateway.setRoutes([{ name: 'once', prefix: '/', service: 'static', retries: 0 }], 'test');
      const statuses: number[] = [];
      for (let i = 0; i < 2; i++) {
        const res = await get(`${gw.url}/n${i}`);
        statuses.push(res.statusCode);
        await res.body.dump();
      }
      expect(statuses.sort()).toEqual([200, 502]);
      expect(flaky.seen.length + good.seen.length).toBe(2);
    });
  });
});

describe('classifyUpstreamError', () => {
  it.each([
    ['ECONNREFUSED', 'connect', 'GATEWAY_UPSTREAM_UNREACHABLE'],
    ['UPSTREAM_CONNECT_TIMEOUT', 'connect', 'GATEWAY_UPSTREAM_TIMEOUT'],
    ['UPSTREAM_HEADERS_TIMEOUT', 'timeout', 'GATEWAY_UPSTREAM_TIMEOUT'],
    ['UPSTREAM_BODY_TIMEOUT', 'timeout', 'GATEWAY_UPSTREAM_TIMEOUT'],
    ['UPSTREAM_BAD_RESPONSE', 'bad_response', 'GATEWAY_UPSTREAM_BAD_RESPONSE'],
    ['UPSTREAM_CLOSED', 'reset', 'GATEWAY_UPSTREAM_UNREACHABLE'],
    ['ECONNRESET', 'reset', 'GATEWAY_UPSTREAM_UNREACHABLE'],
    ['UPSTREAM_POOL_CLOSED', 'gone', 'GATEWAY_UPSTREAM_UNREACHABLE'],
  ])('maps %s to %s / %s', (code, kind, status) => {
    expect(classifyUpstreamError(Object.assign(new Error('x'), { code }))).toEqual({
      kind,
      status,
    });
  });
});
