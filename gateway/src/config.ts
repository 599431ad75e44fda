import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { isIP } from 'node:net';
import { z } from 'zod';
import {
  commonEnv,
  DEFAULT_EVENTS_STREAM_LIMITS,
  env,
  type EventsStreamLimits,
} from '@netlab/shared';
import type { DashboardSettings } from './dashboard/dashboard';

export const DEFAULT_PORT = 8080;
export const DEFAULT_TCP_PORT = 7000;
/** `<repo>/load/results`, where k6 runs and benchmarks write their reports. */
export const DEFAULT_RESULTS_DIR = join(__dirname, '..', '..', 'load', 'results');

/** One `UPSTREAMS` entry: `static=http://127.0.0.1:8081` or `tcp-echo=tcp://127.0.0.1:7001`. */
export interface StaticUpstream {
  service: string;
  /** `http://host:port` for HTTP services. */
  http: string | undefined;
  /** `host:port` for TCP services. */
  tcp: string | undefined;
}

const SERVICE = /^[a-z0-9][a-z0-9-]*$/;

function pairs(raw: string): [string, string][] | undefined {
  const out: [string, string][] = [];
  for (const item of raw.split(',')) {
    const entry = item.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) return undefined;
    out.push([entry.slice(0, eq).trim(), entry.slice(eq + 1).trim()]);
  }
  return out;
}

/** `host:port`, with IPv6 hosts bracketed: `[::1]:7001`. */
export function parseHostPort(raw: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(raw);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

function parseUpstreams(raw: string): StaticUpstream[] | undefined {
  const list = pairs(raw);
  if (list === undefined || list.length === 0) return undefined;
  const out: StaticUpstream[] = [];
  for (const [service, url] of list) {
    if (!SERVICE.test(service) || !URL.canParse(url)) return undefined;
    const u = new URL(url);
    if (u.protocol === 'http:' && u.pathname === '/' && u.search === '') {
      out.push({ service, http: u.origin, tcp: undefined });
    } else if (u.protocol === 'tcp:' && u.port !== '') {
      out.push({ service, http: undefined, tcp: `${u.hostname}:${u.port}` });
    } else return undefined;
  }
  return out;
}

function parseHealthPaths(raw: string): Record<string, string> | undefined {
  const list = pairs(raw);
  if (list === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [service, path] of list) {
    if (!SERVICE.test(service) || !path.startsWith('/')) return undefined;
    out[service] = path;
  }
  return out;
}

/** IPs and CIDR blocks: `10.0.0.0/8,127.0.0.1,::1`. */
export interface TrustedNetwork {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

function parseNetworks(raw: string): TrustedNetwork[] | undefined {
  const out: TrustedNetwork[] = [];
  for (const item of raw.split(',')) {
    const entry = item.trim();
    if (entry === '') continue;
    const [address = '', bits] = entry.split('/');
    const version = isIP(address);
    if (version === 0) return undefined;
    const max = version === 4 ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
    out.push({ address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' });
  }
  return out;
}

function custom<T>(form: string, parse: (raw: string) => T | undefined) {
  return z.string().transform((raw, ctx): T => {
    const value = parse(raw.trim());
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${form}` });
      return z.NEVER;
    }
    return value;
  });
}

const schema = z
  .object({
    ...commonEnv(DEFAULT_PORT),
    TCP_PORT: custom('a port number from 0 to 65535, or off', (raw) => {
      if (raw === 'off') return 'off' as const;
      if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) return undefined;
      return Number(raw);
    }).default(DEFAULT_TCP_PORT),
    TCP_SERVICE: custom('a lower-case service name', (raw) =>
      SERVICE.test(raw) ? raw : undefined,
    ).default('tcp-echo'),
    ROUTES_FILE: env.string().optional(),
    UPSTREAMS: custom(
      'name=http://host:port or name=tcp://host:port, separated by commas',
      parseUpstreams,
    ).optional(),
    BALANCER: env.oneOf(['p2c', 'round-robin']).default('p2c'),
    HEALTH_INTERVAL: env.duration().default(1000),
    HEALTH_TIMEOUT: env.duration().default(2000),
    HEALTH_PATH: env.string().default('/readyz'),
    HEALTH_PATHS: custom('service=/path, separated by commas', parseHealthPaths).default({
      static: '/-/readyz',
    }),
    UNHEALTHY_AFTER: env.integer(1, 100).default(2),
    EJECT_AFTER: env.integer(1, 100).default(3),
    DISCOVERY_INTERVAL: env.duration().default(2000),
    UPSTREAM_CONNECT_TIMEOUT: env.duration().default(5000),
    UPSTREAM_HEADERS_TIMEOUT: env.duration().default(30_000),
    UPSTREAM_BODY_TIMEOUT: env.duration().default(60_000),
    UPSTREAM_MAX_CONNECTIONS: env.integer(1, 100_000).default(256),
    UPSTREAM_KEEPALIVE_TIMEOUT: env.duration().default(4000),
    RETRIES: env.integer(0, 5).default(1),
    MAX_HEADER_SIZE: env.bytes().default(16 * 1024),
    MAX_HEADERS: env.integer(1, 10_000).default(100),
    MAX_BODY_SIZE: env.bytes().default(10 * 1024 * 1024),
    HEADERS_TIMEOUT: env.duration().default(10_000),
    REQUEST_TIMEOUT: env.duration().default(300_000),
    CLIENT_IDLE_TIMEOUT: env.duration().default(60_000),
    KEEPALIVE_TIMEOUT: env.duration().default(5000),
    STREAM_DRAIN_TIMEOUT: env.duration().default(1000),
    STARTUP_WAIT: env.duration().default(3000),
    MAX_CONNECTIONS: env.integer(1, 1_000_000).default(10_000),
    TCP_MAX_CONNECTIONS: env.integer(1, 1_000_000).default(10_000),
    TCP_CONNECT_TIMEOUT: env.duration().default(5000),
    TCP_IDLE_TIMEOUT: env.duration().default(0),
    RATE_LIMIT: z
      .string()
      .regex(/^\d+(\.\d+)?$/, 'expected requests per second, 0 for none')
      .transform(Number)
      .default(0),
    RATE_BURST: env.integer(0, 1_000_000).default(0),
    TRUSTED_PROXIES: custom(
      'IP addresses or CIDR blocks, separated by commas',
      parseNetworks,
    ).default([]),
    SERVED_BY_HEADER: env.boolean().default(false),
    FAST_PATH: env.boolean().default(true),
    ACCESS_LOG: env.boolean().default(true),
    DASHBOARD: env.boolean().default(true),
    DASHBOARD_WINDOW: env.duration().default(300_000),
    DASHBOARD_POLL_INTERVAL: env.duration().default(2000),
    DASHBOARD_POLL_TIMEOUT: env.duration().default(1000),
    DASHBOARD_POLL_MAX_BYTES: env.bytes().default(1024 * 1024),
    DASHBOARD_MAX_CLIENTS: env.integer(1, 10_000).default(32),
    DASHBOARD_MAX_EVENTS: env.integer(1, 10_000).default(200),
    DASHBOARD_CLIENT_BUFFER: env.bytes().default(1024 * 1024),
    DASHBOARD_RESULTS_DIR: env.string().optional(),
    NATS_MONITOR_URL: env.url(['http:']).optional(),
    EVENTS_MAX_AGE: env.duration().default(DEFAULT_EVENTS_STREAM_LIMITS.maxAgeMs),
    EVENTS_MAX_BYTES: env.bytes().default(DEFAULT_EVENTS_STREAM_LIMITS.maxBytes),
    WORKERS: custom('an integer from 1 to 64, or auto', (raw) => {
      if (raw === 'auto') return availableParallelism();
      return /^\d+$/.test(raw) && Number(raw) >= 1 && Number(raw) <= 64 ? Number(raw) : undefined;
    }).default(1),
  })
  .superRefine((e, ctx) => {
    // Node refuses a headers timeout longer than the request timeout.
    if (e.REQUEST_TIMEOUT > 0 && e.HEADERS_TIMEOUT > e.REQUEST_TIMEOUT) {
      ctx.addIssue({
        code: 'custom',
        path: ['HEADERS_TIMEOUT'],
        message: `must not exceed REQUEST_TIMEOUT (${e.REQUEST_TIMEOUT}ms)`,
      });
    }
    if (e.DASHBOARD_WINDOW < 10_000 || e.DASHBOARD_WINDOW > 3_600_000) {
      ctx.addIssue({
        code: 'custom',
        path: ['DASHBOARD_WINDOW'],
        message: 'must be from 10s to 1h',
      });
    }
    if (e.DASHBOARD_POLL_INTERVAL < 100) {
      ctx.addIssue({
        code: 'custom',
        path: ['DASHBOARD_POLL_INTERVAL'],
        message: 'must be at least 100ms',
      });
    }
    if (e.HEALTH_INTERVAL < 50) {
      ctx.addIssue({ code: 'custom', path: ['HEALTH_INTERVAL'], message: 'must be at least 50ms' });
    }
  });

export const configSchema = schema;
export type GatewayEnv = z.output<typeof schema>;

/** The gateway's own settings, camelCase, as everything below main.ts takes them. */
export interface GatewaySettings {
  balancer: 'p2c' | 'round-robin';
  healthIntervalMs: number;
  healthTimeoutMs: number;
  healthPath: string;
  healthPaths: Readonly<Record<string, string>>;
  unhealthyAfter: number;
  ejectAfter: number;
  discoveryIntervalMs: number;
  upstreamConnectTimeoutMs: number;
  upstreamHeadersTimeoutMs: number;
  upstreamBodyTimeoutMs: number;
  upstreamMaxConnections: number;
  upstreamKeepAliveTimeoutMs: number;
  retries: number;
  maxHeaderSize: number;
  maxHeaders: number;
  maxBodySize: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  clientIdleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** After SIGTERM: event streams, WebSocket tunnels and TCP connections are closed after this. */
  streamDrainTimeoutMs: number;
  /** At start: how long requests wait for a service's first healthy instance (and readiness for discovery). */
  startupWaitMs: number;
  maxConnections: number;
  tcpService: string;
  tcpMaxConnections: number;
  tcpConnectTimeoutMs: number;
  tcpIdleTimeoutMs: number;
  rateLimit: number;
  rateBurst: number;
  trustedProxies: readonly TrustedNetwork[];
  servedByHeader: boolean;
  /** Serve plain bodyless requests without node:http's request/response streams (fast-path.ts). */
  fastPath: boolean;
  accessLog: boolean;
  /** NETLAB_EVENTS history, created or updated when the gateway joins NATS. */
  eventsStream: EventsStreamLimits;
  dashboard: DashboardSettings;
}

export function gatewaySettings(e: GatewayEnv): GatewaySettings {
  return {
    balancer: e.BALANCER,
    healthIntervalMs: e.HEALTH_INTERVAL,
    healthTimeoutMs: e.HEALTH_TIMEOUT,
    healthPath: e.HEALTH_PATH,
    healthPaths: e.HEALTH_PATHS,
    unhealthyAfter: e.UNHEALTHY_AFTER,
    ejectAfter: e.EJECT_AFTER,
    discoveryIntervalMs: e.DISCOVERY_INTERVAL,
    upstreamConnectTimeoutMs: e.UPSTREAM_CONNECT_TIMEOUT,
    upstreamHeadersTimeoutMs: e.UPSTREAM_HEADERS_TIMEOUT,
    upstreamBodyTimeoutMs: e.UPSTREAM_BODY_TIMEOUT,
    upstreamMaxConnections: e.UPSTREAM_MAX_CONNECTIONS,
    upstreamKeepAliveTimeoutMs: e.UPSTREAM_KEEPALIVE_TIMEOUT,
    retries: e.RETRIES,
    maxHeaderSize: e.MAX_HEADER_SIZE,
    maxHeaders: e.MAX_HEADERS,
    maxBodySize: e.MAX_BODY_SIZE,
    headersTimeoutMs: e.HEADERS_TIMEOUT,
    requestTimeoutMs: e.REQUEST_TIMEOUT,
    clientIdleTimeoutMs: e.CLIENT_IDLE_TIMEOUT,
    keepAliveTimeoutMs: e.KEEPALIVE_TIMEOUT,
    streamDrainTimeoutMs: e.STREAM_DRAIN_TIMEOUT,
    startupWaitMs: e.STARTUP_WAIT,
    maxConnections: e.MAX_CONNECTIONS,
    tcpService: e.TCP_SERVICE,
    tcpMaxConnections: e.TCP_MAX_CONNECTIONS,
    tcpConnectTimeoutMs: e.TCP_CONNECT_TIMEOUT,
    tcpIdleTimeoutMs: e.TCP_IDLE_TIMEOUT,
    rateLimit: e.RATE_LIMIT,
    rateBurst: e.RATE_BURST,
    trustedProxies: e.TRUSTED_PROXIES,
    servedByHeader: e.SERVED_BY_HEADER,
    fastPath: e.FAST_PATH,
    accessLog: e.ACCESS_LOG,
    eventsStream: { maxAgeMs: e.EVENTS_MAX_AGE, maxBytes: e.EVENTS_MAX_BYTES },
    dashboard: {
      enabled: e.DASHBOARD,
      windowSeconds: Math.round(e.DASHBOARD_WINDOW / 1000),
      pollIntervalMs: e.DASHBOARD_POLL_INTERVAL,
      pollTimeoutMs: e.DASHBOARD_POLL_TIMEOUT,
      pollMaxBytes: e.DASHBOARD_POLL_MAX_BYTES,
      maxClients: e.DASHBOARD_MAX_CLIENTS,
      maxEvents: e.DASHBOARD_MAX_EVENTS,
      clientBufferBytes: e.DASHBOARD_CLIENT_BUFFER,
      natsMonitorUrl: e.NATS_MONITOR_URL,
      resultsDir: resolve(e.DASHBOARD_RESULTS_DIR ?? DEFAULT_RESULTS_DIR),
    },
  };
}

/** Tests build settings from the defaults and override what they cross. */
export function defaultSettings(overrides: Partial<GatewaySettings> = {}): GatewaySettings {
  return { ...gatewaySettings(schema.parse({})), ...overrides };
}
