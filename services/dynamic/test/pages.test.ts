import { call, startTestApp, type TestApp } from './harness';

const MARKUP = '<script>alert("x")</script>';

describe('the server-rendered pages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.repo.insertStocks([
      {
        code: 'XSS1',
        shortName: MARKUP,
        changePct: 1,
        turnoverPct: 1,
        price: 1,
        high: 2,
        date: '2026-11-20',
      },
    ]);
  });
  afterAll(() => t?.close());

  /** A browser's view: the page, its CSRF cookie (kept across requests) and form token. */
  async function open(path: string, cookie?: string) {
    const res = await fetch(`${t.base}${path}`, {
      headers: { accept: 'text/html', ...(cookie === undefined ? {} : { cookie }) },
      redirect: 'manual',
    });
    const html = await res.text();
    const set = res.headers.get('set-cookie');
    const jar = set === null ? cookie : set.split(';')[0];
    const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
    return { res, html, cookie: jar, token };
  }

  async function post(
    path: string,
    fields: Record<string, string>,
    headers: Record<string, string> = {},
  ) {
    return fetch(`${t.base}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'text/html',
        ...headers,
      },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
    });
  }

  it('renders the first page of all stocks from the layout, with a pager and live updates', async () => {
    const page = await open('/');
    expect(page.res.status).toBe(302);
    expect(page.res.headers.get('location')).toBe('/index.html');
    const index = await open('/index.html');
    expect(index.res.status).toBe(200);
    expect(index.res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(index.html).toContain('<title>All stocks · netlab</title>');
    expect(index.html).toContain('241 stocks · page 1 of 13');
    expect(index.html.match(/<tr data-code=/g)).toHaveLength(20);
    expect(index.html).toContain('data-live="sse"');
    expect(index.html).toContain('rel="next" href="/index.html?sort=code&amp;page=2"');
  });

  it('sends a page without an ETag (its CSRF token is new each time), with its length, and HEAD without a body', async () => {
    const a = await open('/index.html');
    const b = await open('/index.html', a.cookie);
    expect(a.token).not.toBe(b.token);
    expect(a.res.headers.get('etag')).toBeNull();
    expect(a.res.headers.get('cache-control')).toBe('no-store');
    expect(a.res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    // Multi-byte names (the seed has CJK ones) count in bytes.
    expect(Number(b.res.headers.get('content-length'))).toBe(Buffer.byteLength(b.html));
    const head = await fetch(`${t.base}/index.html`, {
      method: 'HEAD',
      headers: { cookie: a.cookie! },
    });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(10_000);
  });

  it('escapes markup in a stock name and in the search, on both pages (XSS)', async () => {
    const search = await open(`/index.html?q=${encodeURIComponent('XSS1')}`);
    expect(search.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(search.html).not.toContain(MARKUP);
    const q = '"><img src=x onerror=alert(1)>';
    const echoed = await open(`/index.html?q=${encodeURIComponent(q)}`);
    expect(echoed.html).not.toContain('<img src=x');
    expect(echoed.html).toContain('value="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"');

    await call(t.base, 'POST', '/api/focus', { code: 'XSS1', note: '<b>bold</b>' });
    try {
      const center = await open('/center.html');
      expect(center.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
      expect(center.html).toContain('value="&lt;b&gt;bold&lt;/b&gt;"');
      expect(center.html).not.toContain(MARKUP);
      expect(center.html).not.toContain('<b>bold</b>');
    } finally {
      await call(t.base, 'DELETE', '/api/focus/XSS1');
    }
  });

  it('follows, notes and unfollows a stock with plain forms (Post/Redirect/Get)', async () => {
    const index = await open('/index.html?page=2');
    expect(index.res.headers.get('set-cookie')).toMatch(
      /^netlab_csrf=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict/,
    );
    const code = /<tr data-code="(\w+)">/.exec(index.html)![1]!;
    const followed = await post(
      '/focus',
      { _csrf: index.token!, code, back: '/index.html?sort=code&page=2' },
      { cookie: index.cookie! },
    );
    expect(followed.status).toBe(303);
    expect(followed.headers.get('location')).toBe(
      `/index.html?sort=code&page=2&notice=followed&code=${code}`,
    );
    const after = await open(followed.headers.get('location')!, index.cookie);
    expect(after.html).toContain(`Now following ${code}.`);
    expect(after.html).toContain(`href="/center.html#focus-${code}">followed</a>`);

    const again = await post('/focus', { _csrf: after.token!, code }, { cookie: index.cookie! });
    expect(again.headers.get('location')).toBe(`/index.html?notice=already&code=${code}`);

    const center = await open('/center.html', index.cookie);
    expect(center.html).toContain('data-live="ws"');
    const noted = await post(
      `/focus/${code}/note`,
      { _csrf: center.token!, note: 'buy < 10 & hold' },
      { cookie: index.cookie! },
    );
    expect(noted.headers.get('location')).toBe(`/center.html?notice=saved&code=${code}`);
    expect((await open('/center.html', index.cookie)).html).toContain(
      'value="buy &lt; 10 &amp; hold"',
    );
    const tooLong = await post(
      `/focus/${code}/note`,
      { _csrf: center.token!, note: 'x'.repeat(201) },
      { cookie: index.cookie! },
    );
    expect(tooLong.headers.get('location')).toBe(`/center.html?notice=note-too-long&code=${code}`);

    const removed = await post(
      `/focus/${code}/delete`,
      { _csrf: center.token! },
      { cookie: index.cookie! },
    );
    expect(removed.headers.get('location')).toBe(`/center.html?notice=removed&code=${code}`);
    const empty = await open(removed.headers.get('location')!, index.cookie);
    expect(empty.html).toContain(`Stopped following ${code}.`);
    expect(empty.html).toContain('You follow no stock yet.');
  });

  it('refuses a form without the token, with another browser’s token, or from another site', async () => {
    const mine = await open('/index.html');
    const theirs = await open('/index.html');
    const code = '300843';
    const missing = await post('/focus', { code }, { cookie: mine.cookie! });
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain('CSRF_FAILED');
    const swapped = await post('/focus', { code, _csrf: theirs.token! }, { cookie: mine.cookie! });
    expect(swapped.status).toBe(403);
    const noCookie = await post('/focus', { code, _csrf: mine.token! });
    expect(noCookie.status).toBe(403);
    const crossSite = await post(
      '/focus',
      { code, _csrf: mine.token! },
      { cookie: mine.cookie!, origin: 'https://evil.example' },
    );
    expect(crossSite.status).toBe(403);
    const fetchMeta = await post(
      '/focus',
      { code, _csrf: mine.token! },
      { cookie: mine.cookie!, 'sec-fetch-site': 'cross-site' },
    );
    expect(fetchMeta.status).toBe(403);
    const json = await fetch(`${t.base}/focus`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: `code=${code}`,
    });
    expect(json.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await json.json()) as { code: string }).code).toBe('CSRF_FAILED');
    expect((await call<{ total: number }>(t.base, 'GET', '/api/focus')).json.total).toBe(0);
    const sameOrigin = await post(
      '/focus',
      { code, _csrf: mine.token! },
      { cookie: mine.cookie!, origin: t.base },
    );
    expect(sameOrigin.status).toBe(303);
    await call(t.base, 'DELETE', `/api/focus/${code}`);
  });

  it('masks the token differently on every page, and never redirects off the site', async () => {
    const first = await open('/index.html');
    const second = await open('/index.html', first.cookie);
    expect(second.token).not.toBe(first.token);
    const res = await post(
      '/focus',
      { _csrf: second.token!, code: '999999', back: 'https://evil.example/index.html' },
      { cookie: first.cookie! },
    );
    expect(res.headers.get('location')).toBe('/index.html?notice=unknown&code=999999');
  });

  it('answers a real 404 page and a 503 page naming DB_UNAVAILABLE when the database is gone', async () => {
    const missing = await open('/nope.html');
    expect(missing.res.status).toBe(404);
    expect(missing.html).toContain('Back to the stock list');
    const broken = await startTestApp({
      env: { DATABASE_URL: 'mysql://u:p@127.0.0.1:1/stock', DB_CONNECT_TIMEOUT: '300ms' },
      waitReady: false,
    });
    try {
      const res = await fetch(`${broken.base}/index.html`, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await res.text()).toContain('DB_UNAVAILABLE');
    } finally {
      await broken.close();
    }
  });
});
