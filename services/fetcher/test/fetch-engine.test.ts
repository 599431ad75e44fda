import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createWriteStream, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { listen } from '@netlab/shared/testing';
import { crossesOrigin, parseRetryAfter } from '../src/fetch-engine';
import type { FetchResponse } from '../src/request-model';
import { makeCore, req, startUpstream, type TestCore, type Upstream } from './fixtures/fetcher';
import { startProxy, type TestProxy } from './fixtures/proxy';
import { createRoutes, type Routes } from './fixtures/routes';
import { selfSignedCert } from './fixtures/tls';

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  body: string;
}

const echoOf = (res: FetchResponse): Echo => {
  if (res.body.as !== 'json') throw new Error(`expected a JSON body, got ${res.body.as}`);
  return res.body.json as Echo;
};

let routes: Routes;
let up: Upstream;
let core: TestCore;
let base: string;

beforeAll(async () => {
  routes = createRoutes();
  up = await startUpstream(routes.handler);
  base = up.url;
  core = makeCore({ FETCH_ALLOW: '127.0.0.1,::1' });
});

afterAll(async () => {
  routes.close();
  await core.close();
  await up.close();
});

const fetch = (input: Parameters<typeof req>[0], c: TestCore = core) =>
  c.engine.fetch(req(input), { via: 'http' });

describe('requests features', () => {
  it('encodes params like requests: repeated keys, after the existing query, quote_plus', async () => {
    const res = await fetch({
      url: `${base}/echo?x=1`,
      params: { a: ['1', '2'], 'b c': 'd e', s: "~*!'()", u: 'é', drop: null },
    });
    expect(echoOf(res).url).toBe('/echo?x=1&a=1&a=2&b+c=d+e&s=~%2A%21%27%28%29&u=%C3%A9');
  });

  it('keeps the order of params given as pairs', async () => {
    const res = await fetch({
      url: `${base}/echo`,
      params: [
        ['z', '1'],
        ['a', '2'],
        ['z', '3'],
      ],
    });
    expect(echoOf(res).url).toBe('/echo?z=1&a=2&z=3');
  });

  it('sends headers, with a default User-Agent and Accept-Encoding that a caller can override', async () => {
    const a = echoOf(await fetch({ url: `${base}/echo`, headers: { 'X-Trace': 'abc' } }));
    expect(a.headers['x-trace']).toBe('abc');
    expect(a.headers['user-agent']).toMatch(/^netlab-fetcher\//);
    expect(a.headers['accept-encoding']).toBe('gzip, deflate, br, zstd');
    const b = echoOf(await fetch({ url: `${base}/echo`, headers: [['User-Agent', 'me/1']] }));
    expect(b.headers['user-agent']).toBe('me/1');
  });

  it('sends a JSON body with its content type', async () => {
    const e = echoOf(
      await fetch({ method: 'POST', url: `${base}/echo`, json: { a: [1, 2], b: null } }),
    );
    expect(e.headers['content-type']).toBe('application/json');
    expect(JSON.parse(e.body)).toEqual({ a: [1, 2], b: null });
  });

  it('sends form data with repeated keys, a raw string, and raw bytes', async () => {
    const form = echoOf(
      await fetch({ method: 'POST', url: `${base}/echo`, data: { a: ['1', '2'], b: 'x y' } }),
    );
    expect(form.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(form.body).toBe('a=1&a=2&b=x+y');
    const raw = echoOf(await fetch({ method: 'PUT', url: `${base}/echo`, data: 'plain text' }));
    expect(raw.body).toBe('plain text');
    expect(raw.headers['content-type']).toBeUndefined();
    const bytes = echoOf(
      await fetch({
        method: 'PUT',
        url: `${base}/echo`,
        bodyBase64: Buffer.from('bin').toString('base64'),
      }),
    );
    expect(bytes.body).toBe('bin');
  });

  it('sends multipart with data fields first and an inline file', async () => {
    const e = echoOf(
      await fetch({
        method: 'POST',
        url: `${base}/echo`,
        data: { note: 'hi' },
        files: {
          doc: {
            content: Buffer.from('file body').toString('base64'),
            filename: 'a"b.txt',
            contentType: 'text/plain',
          },
        },
      }),
    );
    const boundary = /boundary=(\w+)/.exec(e.headers['content-type'] ?? '')![1]!;
    expect(e.body).toBe(
      `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="doc"; filename="a%22b.txt"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n` +
        `--${boundary}--\r\n`,
    );
    expect(Number(e.headers['content-length'])).toBe(Buffer.byteLength(e.body));
  });

  it('sends basic and bearer auth, and credentials from the URL as basic auth', async () => {
    const basic = echoOf(await fetch({ url: `${base}/echo`, auth: ['user', 'pässword'] }));
    expect(basic.headers.authorization).toBe(
      `Basic ${Buffer.from('user:pässword').toString('base64')}`,
    );
    const bearer = echoOf(
      await fetch({ url: `${base}/echo`, auth: { type: 'bearer', token: 't0k' } }),
    );
    expect(bearer.headers.authorization).toBe('Bearer t0k');
    const inUrl = await fetch({ url: base.replace('http://', 'http://u%40x:p@') + '/echo' });
    expect(echoOf(inUrl).headers.authorization).toBe(
      `Basic ${Buffer.from('u@x:p').toString('base64')}`,
    );
    expect(inUrl.url).not.toContain('u%40x');
  });

  it('returns status, reason, final URL, headers, cookies, timings and sizes', async () => {
    const res = await fetch({ url: `${base}/set-cookie?c=${encodeURIComponent('k=v; Path=/')}` });
    expect(res).toMatchObject({
      ok: true,
      status: 200,
      reason: 'OK',
      method: 'GET',
      retries: 0,
      cookies: { k: 'v' },
    });
    expect(res.url).toBe(`${base}/set-cookie?c=k%3Dv%3B%20Path%3D%2F`);
    expect(res.headers['set-cookie']).toEqual(['k=v; Path=/']);
    expect(res.sizes.wire).toBe(res.sizes.decoded);
    expect(res.elapsedMs).toBeGreaterThan(0);
    expect(res.totalMs).toBeGreaterThanOrEqual(res.elapsedMs);
  });

  it('gives JSON for JSON, text with its charset for text, base64 for binary', async () => {
    expect((await fetch({ url: `${base}/text?charset=iso-8859-1` })).body).toEqual({
      as: 'text',
      text: 'café',
      charset: 'iso-8859-1',
    });
    expect((await fetch({ url: `${base}/text` })).body).toEqual({
      as: 'text',
      text: 'café',
      charset: 'utf-8',
    });
    expect((await fetch({ url: `${base}/binary` })).body).toEqual({
      as: 'base64',
      base64: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]).toString('base64'),
    });
    expect((await fetch({ url: `${base}/binary`, response: { as: 'none' } })).body).toEqual({
      as: 'none',
    });
    await expect(fetch({ url: `${base}/text`, response: { as: 'json' } })).rejects.toMatchObject({
      code: 'FETCH_DECODE_ERROR',
    });
    expect((await fetch({ url: `${base}/echo`, method: 'HEAD' })).body).toEqual({ as: 'none' });
  });

  it.each(['gzip', 'deflate', 'deflate-raw', 'br', 'zstd'])(
    'undoes %s content encoding',
    async (coding) => {
      const res = await fetch({ url: `${base}/encoded?coding=${coding}` });
      expect(res.body).toEqual({ as: 'json', json: { hello: 'wörld', n: 42 } });
      expect(res.sizes.decoded).toBe(Buffer.byteLength(JSON.stringify({ hello: 'wörld', n: 42 })));
    },
  );

  it('answers FETCH_DECODE_ERROR for a body that is not what its Content-Encoding says', async () => {
    const liar = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      res.end('plain text, not gzip');
    });
    try {
      await expect(fetch({ url: liar.url })).rejects.toMatchObject({ code: 'FETCH_DECODE_ERROR' });
    } finally {
      await liar.close();
    }
  });

  it('uploads a 100 MiB file streamed from FETCH_FILES_DIR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netlab-fetcher-files-'));
    const files = makeCore({ FETCH_ALLOW: '127.0.0.1', FETCH_FILES_DIR: dir });
    try {
      const hash = createHash('sha256');
      const out = createWriteStream(join(dir, 'big.bin'));
      const block = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < 100; i++) {
        block.fill(i);
        block.writeUInt32BE((i * 2654435761) >>> 0, 0);
        hash.update(block);
        if (!out.write(block)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
      const res = await fetch(
        { method: 'POST', url: `${base}/upload`, files: { file: { path: 'big.bin' } } },
        files,
      );
      const got = (
        res.body as { json: { sha256: string; total: number; contentLength: number; head: string } }
      ).json;
      expect(got.sha256).toBe(hash.digest('hex'));
      expect(got.total).toBe(got.contentLength);
      expect(got.head).toContain('name="file"; filename="big.bin"');
    } finally {
      await files.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses upload paths outside FETCH_FILES_DIR, through symlinks too, and when it is unset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netlab-fetcher-files-'));
    const outside = mkdtempSync(join(tmpdir(), 'netlab-fetcher-outside-'));
    writeFileSync(join(outside, 'secret'), 'secret');
    symlinkSync(join(outside, 'secret'), join(dir, 'link'));
    const files = makeCore({ FETCH_ALLOW: '127.0.0.1', FETCH_FILES_DIR: dir });
    const post = (path: string, c: TestCore) =>
      fetch({ method: 'POST', url: `${base}/echo`, files: { f: { path } } }, c);
    try {
      await expect(post('../' + join('..', outside, 'secret'), files)).rejects.toMatchObject({
        code: 'FETCH_FILE_DENIED',
      });
      await expect(post(join(outside, 'secret'), files)).rejects.toMatchObject({
        code: 'FETCH_FILE_DENIED',
      });
      await expect(post('link', files)).rejects.toMatchObject({ code: 'FETCH_FILE_DENIED' });
      await expect(post('missing', files)).rejects.toMatchObject({ code: 'FETCH_FILE_NOT_FOUND' });
      await expect(post('x', core)).rejects.toMatchObject({ code: 'FETCH_FILE_DENIED' });
      expect(routes.hits.get('/upload') ?? 0).toBeLessThanOrEqual(1);
    } finally {
      await files.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('redirects', () => {
  it('follows a chain and returns the history with each hop', async () => {
    const res = await fetch({ url: `${base}/chain/3` });
    expect(res.history.map((h) => [h.status, h.url])).toEqual([
      [302, `${base}/chain/3`],
      [302, `${base}/chain/2`],
      [302, `${base}/chain/1`],
    ]);
    expect(res.url).toBe(`${base}/chain/0`);
  });

  it('does not follow when asked not to, and returns the 3xx', async () => {
    const res = await fetch({ url: `${base}/chain/2`, allowRedirects: false });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/chain/1');
    expect(res.history).toEqual([]);
  });

  it('ends a redirect loop with FETCH_TOO_MANY_REDIRECTS at maxRedirects', async () => {
    const before = routes.hits.get('/loop') ?? 0;
    await expect(fetch({ url: `${base}/loop`, maxRedirects: 5 })).rejects.toMatchObject({
      code: 'FETCH_TOO_MANY_REDIRECTS',
    });
    expect((routes.hits.get('/loop') ?? 0) - before).toBe(6);
    await expect(fetch({ url: `${base}/loop` })).rejects.toMatchObject({
      code: 'FETCH_TOO_MANY_REDIRECTS',
    });
  });

  it('refuses maxRedirects above FETCH_MAX_REDIRECTS', async () => {
    await expect(fetch({ url: `${base}/echo`, maxRedirects: 31 })).rejects.toMatchObject({
      code: 'FETCH_INVALID_REQUEST',
    });
  });

  it('turns POST into GET without a body on 301, 302 and 303, and keeps both on 307 and 308', async () => {
    for (const [status, method, body] of [
      [301, 'GET', ''],
      [302, 'GET', ''],
      [303, 'GET', ''],
      [307, 'POST', '{"a":1}'],
      [308, 'POST', '{"a":1}'],
    ] as const) {
      const e = echoOf(
        await fetch({
          method: 'POST',
          url: `${base}/redirect?status=${status}&to=/echo`,
          json: { a: 1 },
        }),
      );
      expect([status, e.method, e.body, e.headers['content-type'] ?? null]).toEqual([
        status,
        method,
        body,
        body === '' ? null : 'application/json',
      ]);
    }
  });

  it('keeps PUT on 301 but drops its body, as requests does', async () => {
    const e = echoOf(
      await fetch({ method: 'PUT', url: `${base}/redirect?status=301&to=/echo`, data: 'x' }),
    );
    expect([e.method, e.body]).toEqual(['PUT', '']);
  });

  it('drops Authorization and explicit cookies on a redirect to another host, keeps them on the same host', async () => {
    const other = base.replace('127.0.0.1', 'localhost');
    const opts = {
      auth: ['u', 'p'] as [string, string],
      cookies: { sid: 'secret' },
      headers: { Cookie: 'raw=1' },
    };
    const same = echoOf(await fetch({ url: `${base}/redirect?to=/echo`, ...opts, headers: {} }));
    expect(same.headers.authorization).toBeDefined();
    expect(same.headers.cookie).toBe('sid=secret');
    const cross = echoOf(
      await fetch({ url: `${base}/redirect?to=${encodeURIComponent(`${other}/echo`)}`, ...opts }),
    );
    expect(cross.headers.authorization).toBeUndefined();
    expect(cross.headers.cookie).toBeUndefined();
    // and once dropped, a hop back to the first host does not get them back
    const back = encodeURIComponent(`${other}/redirect?to=${encodeURIComponent(`${base}/echo`)}`);
    const returned = echoOf(await fetch({ url: `${base}/redirect?to=${back}`, auth: ['u', 'p'] }));
    expect(returned.headers.authorization).toBeUndefined();
  });

  it('sends cookies set during redirects to the next hop, scoped by path', async () => {
    const to = encodeURIComponent('/echo/in');
    const cookies = ['a=1; Path=/', 'b=2; Path=/echo', 'c=3; Path=/nowhere']
      .map((c) => `c=${encodeURIComponent(c)}`)
      .join('&');
    const e = echoOf(await fetch({ url: `${base}/set-cookie?${cookies}&to=${to}` }));
    expect(e.headers.cookie).toBe('b=2; a=1');
  });

  it('inherits the fragment of the request when the Location has none', async () => {
    const res = await fetch({ url: `${base}/redirect?to=/echo#frag` });
    expect(res.url).toBe(`${base}/echo#frag`);
    const inherited = await fetch({
      url: `${base}/redirect?to=/echo#top`.replace('#top', '') + '#keep',
    });
    expect(inherited.url).toBe(`${base}/echo#keep`);
  });

  it('tells credentials crossing like requests should_strip_auth', () => {
    const u = (s: string) => new URL(s);
    expect(crossesOrigin(u('http://a/x'), u('http://a/y'))).toBe(false);
    expect(crossesOrigin(u('http://a/x'), u('https://a/y'))).toBe(false);
    expect(crossesOrigin(u('https://a/x'), u('http://a/y'))).toBe(true);
    expect(crossesOrigin(u('http://a:8080/x'), u('http://a:8081/y'))).toBe(true);
    expect(crossesOrigin(u('http://a/x'), u('http://b/x'))).toBe(true);
  });
});

describe('sessions and cookies', () => {
  it('keeps cookies of a named session across requests and forgets them without it', async () => {
    await fetch({
      url: `${base}/set-cookie?c=${encodeURIComponent('sid=42; Path=/')}`,
      session: 'alice',
    });
    const withSession = echoOf(await fetch({ url: `${base}/echo`, session: 'alice' }));
    expect(withSession.headers.cookie).toBe('sid=42');
    const without = echoOf(await fetch({ url: `${base}/echo` }));
    expect(without.headers.cookie).toBeUndefined();
    expect(
      echoOf(await fetch({ url: `${base}/echo`, session: 'bob' })).headers.cookie,
    ).toBeUndefined();
    await fetch({
      url: `${base}/set-cookie?c=${encodeURIComponent('sid=; Max-Age=0; Path=/')}`,
      session: 'alice',
    });
    expect(
      echoOf(await fetch({ url: `${base}/echo`, session: 'alice' })).headers.cookie,
    ).toBeUndefined();
  });

  it('lets explicit cookies override the session jar', async () => {
    await fetch({ url: `${base}/set-cookie?c=${encodeURIComponent('k=jar')}`, session: 'carol' });
    const e = echoOf(
      await fetch({ url: `${base}/echo`, session: 'carol', cookies: { k: 'explicit', z: '1' } }),
    );
    expect(e.headers.cookie).toBe('k=explicit; z=1');
  });

  it('refuses a session jar above FETCH_SESSION_MAX_BYTES', async () => {
    const small = makeCore({ FETCH_ALLOW: '127.0.0.1', FETCH_SESSION_MAX_BYTES: '300' });
    try {
      const big = `c=${encodeURIComponent(`big=${'x'.repeat(400)}`)}`;
      await expect(
        fetch({ url: `${base}/set-cookie?${big}`, session: 's' }, small),
      ).rejects.toMatchObject({
        code: 'FETCH_SESSION_TOO_LARGE',
      });
    } finally {
      await small.close();
    }
  });
});

describe('timeouts and misbehaving servers', () => {
  it('ends a server that never sends headers with FETCH_HEADERS_TIMEOUT', async () => {
    await expect(fetch({ url: `${base}/never`, timeout: { headers: 0.3 } })).rejects.toMatchObject({
      code: 'FETCH_HEADERS_TIMEOUT',
    });
  });

  it('ends a server that drips a byte per second with FETCH_DEADLINE_EXCEEDED', async () => {
    await expect(
      fetch({ url: `${base}/drip?every=1000`, timeout: { total: 1.5 } }),
    ).rejects.toMatchObject({
      code: 'FETCH_DEADLINE_EXCEEDED',
    });
  });

  it('names the current hop in FETCH_DEADLINE_EXCEEDED after a redirect', async () => {
    // The redirect goes to another host name of the same server, which drips past the deadline.
    const to = `${base.replace('127.0.0.1', 'localhost')}/drip?every=1000`;
    const err = await fetch({
      url: `${base}/redirect?to=${encodeURIComponent(to)}`,
      timeout: { total: 1.2 },
    }).catch((e: unknown) => e as Error & { code?: string });
    expect(err).toMatchObject({ code: 'FETCH_DEADLINE_EXCEEDED' });
    expect((err as Error).message).toMatch(
      /^The fetch of localhost:\d+ did not finish within 1200 ms/,
    );
  });

  it('ends a fetch with FETCH_CLIENT_CLOSED when the caller aborts, before or during it', async () => {
    const before = new AbortController();
    before.abort();
    await expect(
      core.engine.fetch(req({ url: `${base}/echo` }), { via: 'http', signal: before.signal }),
    ).rejects.toMatchObject({ code: 'FETCH_CLIENT_CLOSED' });
    const during = new AbortController();
    const t = setTimeout(() => during.abort(), 200);
    try {
      await expect(
        core.engine.fetch(req({ url: `${base}/drip?every=1000` }), {
          via: 'http',
          signal: during.signal,
        }),
      ).rejects.toMatchObject({ code: 'FETCH_CLIENT_CLOSED' });
    } finally {
      clearTimeout(t);
    }
    // The slots were given back: the limiter is idle again.
    expect(core.limiter.stats()).toEqual({ running: 0, queued: 0 });
  });

  it('ends a body that stops with FETCH_READ_TIMEOUT', async () => {
    await expect(fetch({ url: `${base}/pause`, timeout: { read: 0.3 } })).rejects.toMatchObject({
      code: 'FETCH_READ_TIMEOUT',
    });
  });

  it('applies FETCH_TOTAL_TIMEOUT when the request gives none, and refuses a longer one', async () => {
    const short = makeCore({ FETCH_ALLOW: '127.0.0.1', FETCH_TOTAL_TIMEOUT: '400ms' });
    try {
      await expect(fetch({ url: `${base}/drip?every=100` }, short)).rejects.toMatchObject({
        code: 'FETCH_DEADLINE_EXCEEDED',
      });
      await expect(
        fetch({ url: `${base}/echo`, timeout: { total: 1 } }, short),
      ).rejects.toMatchObject({
        code: 'FETCH_INVALID_REQUEST',
      });
    } finally {
      await short.close();
    }
  });

  it('ends a TLS handshake that never completes with FETCH_CONNECT_TIMEOUT', async () => {
    const silent: TcpServer = createTcpServer(() => undefined);
    const { port } = await listen(silent, 0, '127.0.0.1');
    try {
      await expect(
        fetch({ url: `https://127.0.0.1:${port}/`, timeout: { connect: 0.3 } }),
      ).rejects.toMatchObject({
        code: 'FETCH_CONNECT_TIMEOUT',
      });
    } finally {
      silent.close();
    }
  });

  it('reports a refused connection as FETCH_CONNECT_FAILED', async () => {
    const closed = createTcpServer();
    const { port } = await listen(closed, 0, '127.0.0.1');
    await new Promise((r) => closed.close(r));
    await expect(fetch({ url: `http://127.0.0.1:${port}/` })).rejects.toMatchObject({
      code: 'FETCH_CONNECT_FAILED',
    });
  });

  it('gives up on a DNS server that never answers after FETCH_DNS_TIMEOUT', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const slow = makeCore({
      FETCH_DNS_SERVERS: `127.0.0.1:${silent.address().port}`,
      FETCH_DNS_TIMEOUT: '300ms',
    });
    try {
      await expect(fetch({ url: 'http://quiet.test/' }, slow)).rejects.toMatchObject({
        code: 'FETCH_DNS_FAILED',
        message: expect.stringContaining('300 ms') as unknown,
      });
    } finally {
      await slow.close();
      silent.close();
    }
  });

  it('reports an unknown host as FETCH_DNS_FAILED', async () => {
    await expect(fetch({ url: 'http://no-such-host.invalid/' })).rejects.toMatchObject({
      code: 'FETCH_DNS_FAILED',
    });
  });
});

describe('size limits', () => {
  let small: TestCore;
  beforeAll(() => {
    small = makeCore({ FETCH_ALLOW: '127.0.0.1', FETCH_MAX_INLINE_BYTES: '1MiB' });
  });
  afterAll(() => small.close());

  it('refuses a body whose Content-Length is over FETCH_MAX_INLINE_BYTES before reading it', async () => {
    await expect(fetch({ url: `${base}/bytes?n=${2 * 1024 * 1024}` }, small)).rejects.toMatchObject(
      {
        code: 'FETCH_RESPONSE_TOO_LARGE',
        message: expect.stringContaining('FETCH_MAX_INLINE_BYTES') as unknown,
      },
    );
  });

  it('cuts a chunked body at FETCH_MAX_INLINE_BYTES', async () => {
    await expect(
      fetch({ url: `${base}/bytes?n=${2 * 1024 * 1024}&chunked=1` }, small),
    ).rejects.toMatchObject({
      code: 'FETCH_RESPONSE_TOO_LARGE',
    });
    const ok = await fetch({ url: `${base}/bytes?n=${1024 * 1024}&chunked=1` }, small);
    expect(ok.sizes.decoded).toBe(1024 * 1024);
  });

  it('ends a gzip bomb at the decoded cap', async () => {
    await expect(fetch({ url: `${base}/bomb?mib=64` }, small)).rejects.toMatchObject({
      code: 'FETCH_RESPONSE_TOO_LARGE',
      message: expect.stringContaining('decoded') as unknown,
    });
  });

  it('lets a request lower the cap with response.maxBytes', async () => {
    await expect(
      fetch({ url: `${base}/bytes?n=2000`, response: { maxBytes: 1000 } }),
    ).rejects.toMatchObject({
      code: 'FETCH_RESPONSE_TOO_LARGE',
      message: expect.stringContaining('response.maxBytes') as unknown,
    });
  });

  it('caps streamed bodies at FETCH_MAX_WIRE_BYTES and FETCH_MAX_DECODED_BYTES', async () => {
    const caps = makeCore({
      FETCH_ALLOW: '127.0.0.1',
      FETCH_MAX_WIRE_BYTES: '100KiB',
      FETCH_MAX_DECODED_BYTES: '1MiB',
    });
    try {
      const drain = async (url: string, decode?: boolean) => {
        const res = await caps.engine.open(
          req({ url, ...(decode === undefined ? {} : { response: { decode } }) }),
          { via: 'stream' },
        );
        res.body.resume();
        return res.finished;
      };
      await expect(
        caps.engine.open(req({ url: `${base}/bytes?n=200000` }), { via: 'stream' }),
      ).rejects.toMatchObject({
        code: 'FETCH_RESPONSE_TOO_LARGE',
      });
      expect(await drain(`${base}/bytes?n=200000&chunked=1`)).toMatchObject({
        code: 'FETCH_RESPONSE_TOO_LARGE',
      });
      expect(await drain(`${base}/bomb?mib=16`, true)).toMatchObject({
        code: 'FETCH_RESPONSE_TOO_LARGE',
        message: expect.stringContaining('FETCH_MAX_DECODED_BYTES') as unknown,
      });
      expect(await drain(`${base}/bytes?n=50000`)).toBeUndefined();
    } finally {
      await caps.close();
    }
  });
});

describe('retries', () => {
  it('retries 503 honouring Retry-After, for idempotent methods', async () => {
    const path = '/status';
    routes.hits.delete(path);
    const res = await fetch({ url: `${base}${path}?code=503&until=3&retry-after=0`, retries: 3 });
    expect(res.status).toBe(200);
    expect(res.retries).toBe(2);
    expect(routes.hits.get(path)).toBe(3);
  });

  it('does not retry POST unless allowNonIdempotent', async () => {
    routes.hits.delete('/status');
    const once = await fetch({
      method: 'POST',
      url: `${base}/status?code=503&until=3`,
      retries: { total: 3, backoffFactor: 0 },
    });
    expect([once.status, routes.hits.get('/status')]).toEqual([503, 1]);
    routes.hits.delete('/status');
    const again = await fetch({
      method: 'POST',
      url: `${base}/status?code=503&until=3`,
      retries: { total: 3, backoffFactor: 0, allowNonIdempotent: true },
    });
    expect([again.status, routes.hits.get('/status')]).toEqual([200, 3]);
  });

  it('gives up when Retry-After asks for more than FETCH_MAX_RETRY_WAIT, returning the response', async () => {
    routes.hits.delete('/status');
    const res = await fetch({
      url: `${base}/status?code=429&until=3&retry-after=3600`,
      retries: 3,
    });
    expect([res.status, res.retries, routes.hits.get('/status')]).toEqual([429, 0, 1]);
  });

  it('retries a refused connection even for POST, since nothing was sent', async () => {
    const closed = createTcpServer();
    const { port } = await listen(closed, 0, '127.0.0.1');
    await new Promise((r) => closed.close(r));
    const retried = async () => (await core.metrics!.retries.get()).values[0]?.value ?? 0;
    const before = await retried();
    await expect(
      fetch({
        method: 'POST',
        url: `http://127.0.0.1:${port}/`,
        retries: { total: 2, backoffFactor: 0.01 },
      }),
    ).rejects.toMatchObject({ code: 'FETCH_CONNECT_FAILED' });
    expect((await retried()) - before).toBe(2);
  });

  it('refuses more retries than FETCH_MAX_RETRIES', async () => {
    await expect(fetch({ url: `${base}/echo`, retries: 6 })).rejects.toMatchObject({
      code: 'FETCH_INVALID_REQUEST',
    });
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('TLS and proxies', () => {
  let tls: HttpsServer;
  let tlsPort: number;
  let cert: string;
  let proxy: TestProxy;
  let authProxy: TestProxy;

  beforeAll(async () => {
    const pair = selfSignedCert();
    cert = pair.cert;
    tls = createHttpsServer(pair, (r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ secure: true, host: r.headers.host }));
    });
    tlsPort = (await listen(tls, 0, '127.0.0.1')).port;
    proxy = await startProxy();
    authProxy = await startProxy('pu:pp');
  });
  afterAll(async () => {
    tls.closeAllConnections();
    await new Promise((r) => tls.close(r));
    await proxy.close();
    await authProxy.close();
  });

  it('refuses a self-signed certificate by default', async () => {
    await expect(fetch({ url: `https://127.0.0.1:${tlsPort}/` })).rejects.toMatchObject({
      code: 'FETCH_TLS_ERROR',
    });
  });

  it('accepts it with verify off, or with it as an extra CA (by IP and by name)', async () => {
    expect(
      (await fetch({ url: `https://127.0.0.1:${tlsPort}/`, tls: { verify: false } })).status,
    ).toBe(200);
    expect((await fetch({ url: `https://127.0.0.1:${tlsPort}/`, tls: { ca: cert } })).status).toBe(
      200,
    );
    expect((await fetch({ url: `https://localhost:${tlsPort}/`, tls: { ca: cert } })).status).toBe(
      200,
    );
  });

  it('goes through an HTTP proxy, and tunnels https with CONNECT', async () => {
    const plain = await fetch({ url: `${base}/echo?via=proxy`, proxy: proxy.url });
    expect(plain.headers.via).toBe('1.1 test-proxy');
    expect(proxy.forwarded).toContain(`${base}/echo?via=proxy`);
    const secure = await fetch({
      url: `https://127.0.0.1:${tlsPort}/`,
      proxy: { https: proxy.url },
      tls: { ca: cert },
    });
    expect(secure.body).toMatchObject({ as: 'json', json: { secure: true } });
    expect(proxy.tunnels).toContain(`127.0.0.1:${tlsPort}`);
  });

  it('sends proxy credentials from the proxy URL, and reports a proxy refusal', async () => {
    const url = authProxy.url.replace('http://', 'http://pu:pp@');
    expect((await fetch({ url: `${base}/echo`, proxy: url })).status).toBe(200);
    await expect(
      fetch({ url: `https://127.0.0.1:${tlsPort}/`, proxy: authProxy.url, tls: { ca: cert } }),
    ).rejects.toMatchObject({
      code: 'FETCH_PROXY_ERROR',
    });
  });

  it('refuses a proxy that is not http or https', async () => {
    await expect(
      fetch({ url: `${base}/echo`, proxy: 'socks5://127.0.0.1:1080' }),
    ).rejects.toMatchObject({
      code: 'FETCH_INVALID_REQUEST',
    });
  });
});

describe('concurrency limits', () => {
  it('queues per host, then answers FETCH_HOST_BUSY (429) with Retry-After when the host queue is full', async () => {
    const tight = makeCore({
      FETCH_ALLOW: '127.0.0.1',
      FETCH_HOST_CONCURRENCY: '1',
      FETCH_HOST_QUEUE: '1',
      FETCH_BUSY_RETRY_AFTER: '2',
    });
    try {
      const first = fetch({ url: `${base}/slow?ms=300` }, tight);
      const second = fetch({ url: `${base}/slow?ms=10` }, tight);
      await expect(fetch({ url: `${base}/echo` }, tight)).rejects.toMatchObject({
        code: 'FETCH_HOST_BUSY',
        httpStatus: 429,
        retryAfterS: 2,
      });
      expect((await first).status).toBe(200);
      expect((await second).status).toBe(200);
    } finally {
      await tight.close();
    }
  });

  it('answers FETCH_BUSY (503) when the global queue is full', async () => {
    const tight = makeCore({
      FETCH_ALLOW: '127.0.0.1,::1',
      FETCH_CONCURRENCY: '1',
      FETCH_QUEUE: '0',
    });
    try {
      const first = fetch({ url: `${base}/slow?ms=200` }, tight);
      await expect(
        fetch({ url: `${base.replace('127.0.0.1', 'localhost')}/echo` }, tight),
      ).rejects.toMatchObject({
        code: 'FETCH_BUSY',
        httpStatus: 503,
      });
      expect((await first).status).toBe(200);
      // the slot is free again
      expect((await fetch({ url: `${base}/echo` }, tight)).status).toBe(200);
    } finally {
      await tight.close();
    }
  });
});
