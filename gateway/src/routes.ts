import { readFileSync } from 'node:fs';
import picomatch from 'picomatch';
import { z } from 'zod';
import { env } from '@netlab/shared';
import { gatewayError } from './errors';
import { createRateLimiter, type RateLimiter } from './rate-limiter';

/**
 * The route table is data: a JSON file (`ROUTES_FILE`), the NATS KV key `gateway.routes`, or the
 * built-in default below. Each route matches by exactly one of `prefix` (whole path segments:
 * `/docs` matches `/docs` and `/docs/x`, not `/docsx`), `suffix`, `glob` (picomatch) or `path`
 * (exact), optionally narrowed by `methods` and `host`; the first match wins.
 */
const durationValue = z.union([z.number().int().min(0), env.duration()]);
const sizeValue = z.union([z.number().int().min(0), env.bytes()]);
const NAME = /^[A-Za-z0-9][\w.-]{0,63}$/;

export const routeSpecSchema = z
  .strictObject({
    name: z.string().regex(NAME, 'letters, digits, "_", "-" or ".", at most 64'),
    prefix: z.string().startsWith('/').optional(),
    suffix: z.string().min(1).optional(),
    glob: z.string().startsWith('/').optional(),
    path: z.string().startsWith('/').optional(),
    methods: z
      .array(z.string().regex(/^[A-Z]+$/, 'an upper-case method such as GET'))
      .min(1)
      .optional(),
    /** `example.com` or a glob such as `*.example.com`; compared without the port. */
    host: z.string().min(1).optional(),
    service: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a lower-case service name'),
    /** Forward `/api/x` as `/x` (prefix routes only). */
    stripPrefix: z.boolean().optional(),
    timeouts: z.strictObject({ headers: durationValue, body: durationValue }).partial().optional(),
    retries: z.number().int().min(0).max(5).optional(),
    bodyLimit: sizeValue.optional(),
    rateLimit: z
      .strictObject({ rps: z.number().positive(), burst: z.number().int().positive().optional() })
      .optional(),
  })
  .refine((r) => [r.prefix, r.suffix, r.glob, r.path].filter((m) => m !== undefined).length === 1, {
    message: 'needs exactly one of prefix, suffix, glob, path',
  })
  .refine((r) => r.stripPrefix !== true || r.prefix !== undefined, {
    message: 'stripPrefix needs a prefix',
  });

export type RouteSpec = z.input<typeof routeSpecSchema>;
type ParsedRouteSpec = z.output<typeof routeSpecSchema>;

const tableSchema = z
  .preprocess(
    (v) => (Array.isArray(v) ? { routes: v } : v),
    z.strictObject({ routes: z.array(routeSpecSchema) }),
  )
  .transform((t) => t.routes)
  .refine((routes) => new Set(routes.map((r) => r.name)).size === routes.length, {
    message: 'route names must be unique',
  });

/** The issue's default: pages and API to dynamic, fetches to fetcher, everything else static. */
export const DEFAULT_ROUTES: readonly RouteSpec[] = [
  { name: 'pages', suffix: '.html', service: 'dynamic' },
  { name: 'api', prefix: '/api/', service: 'dynamic' },
  { name: 'docs', prefix: '/docs', service: 'dynamic' },
  { name: 'openapi', path: '/openapi.json', service: 'dynamic' },
  { name: 'ws', prefix: '/ws/', service: 'dynamic' },
  { name: 'fetch', prefix: '/fetch', service: 'fetcher' },
  { name: 'downloads', prefix: '/downloads', service: 'fetcher' },
  { name: 'sessions', prefix: '/sessions/', service: 'fetcher' },
  { name: 'static', prefix: '/', service: 'static' },
];

/** Validates a route table (an array, or `{ routes: [...] }`), naming every problem. */
export function parseRouteTable(value: unknown, source: string): ParsedRouteSpec[] {
  const result = tableSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (i) => `  ${i.path.join('.') || '(table)'}: ${i.message}`,
  );
  throw gatewayError(
    'GATEWAY_ROUTES_INVALID',
    [`Invalid route table from ${source}:`, ...problems].join('\n'),
  );
}

/** Parses JSON text into a table; a syntax error is a GATEWAY_ROUTES_INVALID too. */
export function parseRouteJson(text: string, source: string): ParsedRouteSpec[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw gatewayError(
      'GATEWAY_ROUTES_INVALID',
      `Invalid route table from ${source}: ${(err as Error).message}`,
    );
  }
  return parseRouteTable(value, source);
}

export function loadRoutesFile(path: string): ParsedRouteSpec[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw gatewayError(
      'GATEWAY_ROUTES_INVALID',
      `Cannot read ROUTES_FILE ${path}: ${(err as Error).message}`,
    );
  }
  return parseRouteJson(text, path);
}

/** Gateway-wide values a route falls back to. */
export interface RouteDefaults {
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  retries: number;
  bodyLimit: number;
  /** The per-client-IP limit shared by routes without their own; undefined: none. */
  rateLimiter: RateLimiter | undefined;
}

export type MatchKind = 'prefix' | 'suffix' | 'glob' | 'exact';

/** A compiled route: everything the hot path needs, precomputed. */
export interface Route {
  readonly name: string;
  readonly service: string;
  readonly kind: MatchKind;
  /** Prefix without its trailing slash (`''` for `/`), suffix, or exact path. */
  readonly pattern: string;
  readonly regex: RegExp | undefined;
  readonly methods: ReadonlySet<string> | undefined;
  readonly hostRegex: RegExp | undefined;
  /** Characters removed from the front of the path before forwarding. */
  readonly strip: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly retries: number;
  readonly bodyLimit: number;
  readonly rateLimiter: RateLimiter | undefined;
  /** The spec it came from, for `/-/routes`. */
  readonly spec: RouteSpec;
  /** Filled lazily by the metrics layer (one series group per route and service). */
  metricsSlot: unknown;
  /** Filled lazily by the dashboard (the route's per-second traffic series). */
  trafficSlot: unknown;
}

export interface Router {
  readonly routes: readonly Route[];
  /** Where the table came from: `default`, a file path, or `kv:gateway.routes@<revision>`. */
  readonly source: string;
  /** Whether any route looks at the host (the hot path skips parsing it otherwise). */
  readonly usesHost: boolean;
  /** The first route matching a normalised path, method and host (lower-case, no port). */
  match(path: string, method: string, host: string): Route | undefined;
}

function compileRoute(spec: ParsedRouteSpec, defaults: RouteDefaults): Route {
  let kind: MatchKind;
  let pattern = '';
  let regex: RegExp | undefined;
  if (spec.prefix !== undefined) {
    kind = 'prefix';
    pattern = spec.prefix.endsWith('/') ? spec.prefix.slice(0, -1) : spec.prefix;
  } else if (spec.suffix !== undefined) {
    kind = 'suffix';
    pattern = spec.suffix;
  } else if (spec.glob !== undefined) {
    kind = 'glob';
    regex = picomatch.makeRe(spec.glob, { dot: true });
  } else {
    kind = 'exact';
    pattern = spec.path!;
  }
  let methods: Set<string> | undefined;
  if (spec.methods !== undefined) {
    methods = new Set(spec.methods);
    if (methods.has('GET')) methods.add('HEAD');
  }
  const rateLimiter =
    spec.rateLimit !== undefined
      ? createRateLimiter({
          ratePerSecond: spec.rateLimit.rps,
          burst: spec.rateLimit.burst ?? Math.max(1, Math.ceil(spec.rateLimit.rps)),
        })
      : defaults.rateLimiter;
  return {
    name: spec.name,
    service: spec.service,
    kind,
    pattern,
    regex,
    methods,
    hostRegex:
      spec.host === undefined
        ? undefined
        : picomatch.makeRe(spec.host, { nocase: true, dot: true }),
    strip: spec.stripPrefix === true ? pattern.length : 0,
    headersTimeoutMs: spec.timeouts?.headers ?? defaults.headersTimeoutMs,
    bodyTimeoutMs: spec.timeouts?.body ?? defaults.bodyTimeoutMs,
    retries: spec.retries ?? defaults.retries,
    bodyLimit: spec.bodyLimit ?? defaults.bodyLimit,
    rateLimiter,
    spec,
    metricsSlot: undefined,
    trafficSlot: undefined,
  };
}

function matches(route: Route, path: string): boolean {
  switch (route.kind) {
    case 'prefix': {
      const p = route.pattern;
      return path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 0x2f);
    }
    case 'suffix':
      return path.endsWith(route.pattern);
    case 'exact':
      return path === route.pattern;
    default:
      return route.regex!.test(path);
  }
}

export function compileRoutes(
  specs: readonly ParsedRouteSpec[],
  defaults: RouteDefaults,
  source: string,
): Router {
  const routes = specs.map((s) => compileRoute(s, defaults));
  return {
    routes,
    source,
    usesHost: routes.some((r) => r.hostRegex !== undefined),
    match(path, method, host) {
      for (let i = 0; i < routes.length; i++) {
        const r = routes[i]!;
        if (!matches(r, path)) continue;
        if (r.methods !== undefined && !r.methods.has(method)) continue;
        if (r.hostRegex !== undefined && !r.hostRegex.test(host)) continue;
        return r;
      }
      return undefined;
    },
  };
}

/** What the forwarded path is: the normalised path without the route's stripped prefix. */
export function upstreamPath(route: Route, path: string): string {
  if (route.strip === 0) return path;
  const rest = path.slice(route.strip);
  return rest === '' ? '/' : rest;
}
