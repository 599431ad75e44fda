import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { createHealth } from '@netlab/shared';
import { listen, silentLogger, waitFor } from '@netlab/shared/testing';
import { defaultSettings, type GatewaySettings } from '../src/config';
import { createGateway, type Gateway } from '../src/gateway';
import type { RouteSpec } from '../src/routes';

/** Settings for tests: fast probes, no access log noise. */
export function testSettings(overrides: Partial<GatewaySettings> = {}): GatewaySettings {
  return defaultSettings({
    healthIntervalMs: 100,
    healthTimeoutMs: 500,
    accessLog: false,
    discoveryIntervalMs: 300,
    ...overrides,
  });
}

export interface RunningGateway {
  gateway: Gateway;
  port: number;
  url: string;
  /** The Prometheus text of its registry. */
  metricsText(): Promise<string>;
  close(): Promise<void>;
}

export async function startGateway(
  opts: { settings?: Partial<GatewaySettings>; routes?: RouteSpec[]; tcp?: boolean } = {},
): Promise<RunningGateway> {
  const health = createHealth({
    service: 'gateway',
    instance: 'gateway-test',
    defaultMetrics: false,
  });
  const gateway = createGateway({
    settings: testSettings(opts.settings),
    logger: silentLogger(),
    health,
    ...(opts.routes === undefined ? {} : { routes: opts.routes, routesSource: 'test' }),
  });
  const { port } = await listen(gateway.server, 0, '127.0.0.1');
  if (opts.tcp === true) await listen(gateway.tcp.server, 0, '127.0.0.1');
  return {
    gateway,
    port,
    url: `http://127.0.0.1:${port}`,
    metricsText: () => health.registry.metrics(),
    close: async () => {
      await gateway.close(200);
    },
  };
}

export interface Upstream {
  server: Server;
  port: number;
  url: string;
  /** Requests seen (readiness probes excluded). */
  seen: { method: string; url: string; headers: IncomingMessage['headers']; raw: string[] }[];
  ready: boolean;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, up: Upstream) => void;

/** A real upstream on a free port that answers `/readyz` (while `ready`) and records the rest. */
export async function startUpstream(name: string, handler?: Handler): Promise<Upstream> {
  const up = { seen: [], ready: true } as unknown as Upstream;
  const server = createServer((req, res) => {
    if (req.url === '/readyz' || req.url === '/-/readyz') {
      res.statusCode = up.ready ? 200 : 503;
      res.end(up.ready ? 'ok' : 'draining');
      return;
    }
    up.seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      raw: req.rawHeaders,
    });
    if (handler !== undefined) {
      handler(req, res, up);
      return;
    }
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-upstream', name);
      res.end(JSON.stringify({ upstream: name, method: req.method, url: req.url }));
    });
  });
  const { port } = await listen(server, 0, '127.0.0.1');
  up.server = server;
  up.port = port;
  up.url = `http://127.0.0.1:${port}`;
  up.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return up;
}

/** Adds instances as UPSTREAMS would and waits until each is healthy. */
export async function addUpstream(gw: Gateway, service: string, ...ups: Upstream[]): Promise<void> {
  for (const up of ups) gw.upstreams.add({ service, http: up.url }, 'static');
  await waitFor(`${service} instances to be healthy`, () =>
    ups.every((up) =>
      gw.upstreams.list(service).some((i) => i.http === up.url && i.state === 'healthy'),
    ),
  );
}

export interface RawResponse {
  /** Everything the gateway sent before closing (or the timeout). */
  text: string;
  status: number | undefined;
  closed: boolean;
}

/** Writes bytes as they are and reads until the gateway closes or `waitMs` passes. */
export function rawExchange(
  port: number,
  payload: string | Buffer,
  waitMs = 500,
): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ text, status: m ? Number(m[1]) : undefined, closed });
    };
    const timer = setTimeout(done, waitMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('close', () => {
      closed = true;
      done();
    });
    socket.on('error', () => undefined);
    socket.write(payload);
  });
}

export function portOf(server: { address(): unknown }): number {
  return (server.address() as AddressInfo).port;
}

/** The JSON body of a problem response. */
export async function problemOf(res: {
  headers: Record<string, string | string[] | undefined>;
  body: { json(): Promise<unknown> };
}): Promise<Record<string, unknown>> {
  expect(res.headers['content-type']).toBe('application/problem+json');
  return (await res.body.json()) as Record<string, unknown>;
}
