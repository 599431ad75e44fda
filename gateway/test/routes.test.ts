import { isNetlabError } from '@netlab/shared';
import {
  compileRoutes,
  DEFAULT_ROUTES,
  parseRouteJson,
  parseRouteTable,
  upstreamPath,
  type RouteDefaults,
  type RouteSpec,
} from '../src/routes';

const defaults: RouteDefaults = {
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 60_000,
  retries: 1,
  bodyLimit: 1024,
  rateLimiter: undefined,
};

function router(specs: readonly RouteSpec[]) {
  return compileRoutes(parseRouteTable(specs, 'test'), defaults, 'test');
}

describe('the default route table', () => {
  const r = router(DEFAULT_ROUTES);
  it.each([
    ['/index.html', 'dynamic'],
    ['/deep/center.html', 'dynamic'],
    ['/api/stocks', 'dynamic'],
    ['/api', 'dynamic'],
    ['/docs', 'dynamic'],
    ['/docs/index', 'dynamic'],
    ['/openapi.json', 'dynamic'],
    ['/ws/quotes', 'dynamic'],
    ['/fetch', 'fetcher'],
    ['/downloads/abc', 'fetcher'],
    ['/', 'static'],
    ['/style.css', 'static'],
    ['/docsx', 'static'],
    ['/apix/y', 'static'],
    ['/openapi.json/x', 'static'],
    ['/downloadsfoo', 'static'],
  ])('sends %s to %s', (path, service) => {
    expect(r.match(path, 'GET', '')?.service).toBe(service);
  });
});

describe('route matching', () => {
  it('takes the first match, by method and host too', () => {
    const r = router([
      { name: 'writes', prefix: '/api', methods: ['POST'], service: 'writer' },
      { name: 'admin-host', prefix: '/', host: '*.admin.test', service: 'admin' },
      { name: 'reads', prefix: '/api', methods: ['GET'], service: 'reader' },
      { name: 'images', glob: '/img/**/*.{png,jpg}', service: 'images' },
      { name: 'rest', prefix: '/', service: 'static' },
    ]);
    expect(r.usesHost).toBe(true);
    expect(r.match('/api/x', 'POST', '')?.name).toBe('writes');
    expect(r.match('/api/x', 'GET', '')?.name).toBe('reads');
    // GET implies HEAD.
    expect(r.match('/api/x', 'HEAD', '')?.name).toBe('reads');
    expect(r.match('/api/x', 'DELETE', '')?.name).toBe('rest');
    expect(r.match('/api/x', 'GET', 'eu.admin.test')?.name).toBe('admin-host');
    expect(r.match('/img/a/b.png', 'GET', '')?.name).toBe('images');
    expect(r.match('/img/a/b.gif', 'GET', '')?.name).toBe('rest');
  });

  it('answers nothing when no route matches', () => {
    expect(
      router([{ name: 'only', path: '/x', service: 's' }]).match('/y', 'GET', ''),
    ).toBeUndefined();
  });

  it('strips a prefix when asked, leaving at least /', () => {
    const r = router([{ name: 'api', prefix: '/api/', stripPrefix: true, service: 'dynamic' }]);
    const route = r.match('/api/stocks', 'GET', '')!;
    expect(upstreamPath(route, '/api/stocks')).toBe('/stocks');
    expect(upstreamPath(route, '/api')).toBe('/');
  });

  it('takes per-route timeouts, retries and limits with units, else the defaults', () => {
    const r = router([
      {
        name: 'slow',
        prefix: '/slow',
        service: 's',
        timeouts: { headers: '2s', body: 500 },
        retries: 0,
        bodyLimit: '1MiB',
      },
      { name: 'rest', prefix: '/', service: 's' },
    ]);
    expect(r.routes[0]).toMatchObject({
      headersTimeoutMs: 2000,
      bodyTimeoutMs: 500,
      retries: 0,
      bodyLimit: 1024 * 1024,
    });
    expect(r.routes[1]).toMatchObject({ headersTimeoutMs: 30_000, retries: 1, bodyLimit: 1024 });
  });
});

describe('route table validation', () => {
  const invalid = (value: unknown): string => {
    try {
      parseRouteTable(value, 'test');
    } catch (err) {
      expect(isNetlabError(err) && err.code).toBe('GATEWAY_ROUTES_INVALID');
      return (err as Error).message;
    }
    throw new Error('expected the table to be refused');
  };

  it('wants exactly one matcher per route', () => {
    expect(invalid([{ name: 'a', service: 's' }])).toMatch(
      /exactly one of prefix, suffix, glob, path/,
    );
    expect(invalid([{ name: 'a', prefix: '/', suffix: '.x', service: 's' }])).toMatch(
      /exactly one/,
    );
  });

  it('names every problem with its place in the table', () => {
    const message = invalid({
      routes: [
        { name: 'a', prefix: 'no-slash', service: 's' },
        { name: 'b', prefix: '/', service: 'S P A C E', timeouts: { headers: 'soon' } },
      ],
    });
    expect(message).toMatch(/routes\.0\.prefix/);
    expect(message).toMatch(/routes\.1\.service/);
    expect(message).toMatch(/routes\.1\.timeouts\.headers/);
  });

  it('refuses duplicate names, unknown fields and stripPrefix without a prefix', () => {
    expect(
      invalid([
        { name: 'a', prefix: '/', service: 's' },
        { name: 'a', prefix: '/x', service: 's' },
      ]),
    ).toMatch(/unique/);
    expect(invalid([{ name: 'a', prefix: '/', service: 's', colour: 'red' }])).toMatch(/colour/);
    expect(invalid([{ name: 'a', suffix: '.x', stripPrefix: true, service: 's' }])).toMatch(
      /stripPrefix needs a prefix/,
    );
  });

  it('reports JSON syntax errors as an invalid table', () => {
    expect(() => parseRouteJson('{"routes": [', 'kv')).toThrow(/Invalid route table from kv/);
  });
});
