import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import {
  closeHttpServer,
  FAST_PATH_AVAILABLE,
  installFastPath,
  type FastPath,
  type Health,
  type Logger,
} from '@netlab/shared';
import { Gauge } from 'prom-client';
import type { AccessLog } from './access-log';
import { createAdmin } from './admin';
import type { GatewaySettings } from './config';
import { gatewayError, type GatewayError } from './errors';
import { createHttpProxy, type HttpProxy, type RouteStore } from './http-proxy';
import { createGatewayMetrics, type GatewayMetrics, type RejectReason } from './metrics';
import { writeRawProblem } from './problem';
import { createProxyTrust } from './request-headers';
import { createClientIdleSweep } from './client-idle-sweep';
import { createTcpProxy, type TcpProxy } from './tcp-proxy';
import { createUpgradeProxy, type UpgradeProxy } from './upgrade-proxy';
import { createUpstreamRegistry, type UpstreamRegistry } from './upstream-registry';
import { compileRoutes, DEFAULT_ROUTES, parseRouteTable, type RouteSpec } from './routes';
import { createRateLimiter } from './rate-limiter';
import { createDashboard, type Dashboard } from './dashboard/dashboard';
import { createStartupGate, type StartupGate } from './startup-gate';

/**
 * The whole gateway, built but not listening (main.ts and tests listen): the HTTP server with
 * its proxy, upgrades and admin endpoints, the TCP listener, the upstream registry and metrics.
 */
export interface Gateway {
  readonly server: Server;
  readonly tcp: TcpProxy;
  readonly upstreams: UpstreamRegistry;
  readonly routes: RouteStore;
  readonly metrics: GatewayMetrics;
  readonly proxy: HttpProxy;
  readonly upgrades: UpgradeProxy;
  /** The fast path in front of node:http (undefined with FAST_PATH=false). */
  readonly fastPath: FastPath | undefined;
  /** The lab dashboard under `/-/dashboard` (main.ts attaches NATS to it). */
  readonly dashboard: Dashboard;
  /** Readiness and held requests until the first instances are known (main.ts begins it). */
  readonly startup: StartupGate;
  /** Compiles a route table with this gateway's defaults and makes it live. */
  setRoutes(specs: readonly RouteSpec[], source: string): void;
  /**
   * Stops accepting and answers everything from now on with `Connection: close`; idle keep-alive
   * connections close at once, in-flight requests get `graceMs`, event streams, WebSocket tunnels
   * and TCP connections (which never end by themselves) STREAM_DRAIN_TIMEOUT. True when in time.
   */
  close(graceMs: number): Promise<boolean>;
}

export interface GatewayDeps {
  settings: GatewaySettings;
  logger: Logger;
  health: Health;
  /** The batched access log (main.ts); access lines go through `logger` when omitted. */
  accessLog?: AccessLog | undefined;
  /** Counts proxied requests as in-flight work (main.ts: the lifecycle's). */
  beginWork?: () => () => void;
  /** The initial table; the built-in default when omitted. */
  routes?: readonly RouteSpec[];
  routesSource?: string;
  /** This gateway's instance name and version, for the dashboard's topology. */
  identity?: { instance: string; version: string };
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { settings, logger, health } = deps;
  const log = logger.child({ component: 'gateway' });
  const metrics = createGatewayMetrics(health.registry);
  const upstreams = createUpstreamRegistry({ settings, logger });
  const startup = createStartupGate(upstreams, settings.startupWaitMs);
  health.addReadinessCheck('upstreams discovered', () => startup.isOpen());
  const globalLimiter =
    settings.rateLimit > 0
      ? createRateLimiter({
          ratePerSecond: settings.rateLimit,
          burst: settings.rateBurst > 0 ? settings.rateBurst : Math.ceil(settings.rateLimit),
        })
      : undefined;
  const compile = (specs: readonly RouteSpec[], source: string) =>
    compileRoutes(
      parseRouteTable(specs, source),
      {
        headersTimeoutMs: settings.upstreamHeadersTimeoutMs,
        bodyTimeoutMs: settings.upstreamBodyTimeoutMs,
        retries: settings.retries,
        bodyLimit: settings.maxBodySize,
        rateLimiter: globalLimiter,
      },
      source,
    );
  const routes: RouteStore = {
    current: compile(deps.routes ?? DEFAULT_ROUTES, deps.routesSource ?? 'default'),
  };
  const trust = createProxyTrust(settings.trustedProxies);
  const startedAt = new Date().toISOString();
  let httpConnections = 0;
  // The proxy, TCP listener and upgrades are built below; the dashboard reads them once a second.
  let gauges = { inFlight: () => 0, tcp: () => 0, websockets: () => 0 };
  const dashboard = createDashboard({
    settings: settings.dashboard,
    logger,
    upstreams,
    routes,
    gauges: () => ({
      httpConnections,
      inFlight: gauges.inFlight(),
      tcpConnections: gauges.tcp(),
      websockets: gauges.websockets(),
    }),
    self: () => ({
      instance: deps.identity?.instance ?? 'gateway',
      version: deps.identity?.version ?? '0.0.0',
      startedAt,
    }),
  });
  const admin = createAdmin({ health, routes, upstreams, dashboard });
  const proxy = createHttpProxy({
    settings,
    routes,
    upstreams,
    metrics,
    logger,
    trust,
    admin,
    accessLog: deps.accessLog,
    beginWork: deps.beginWork,
    traffic: settings.dashboard.enabled ? dashboard : undefined,
    startup,
  });
  if (deps.accessLog !== undefined) {
    const accessLog = deps.accessLog;
    new Gauge({
      name: 'gateway_access_log_dropped_lines',
      help: 'Access log lines dropped because stdout could not keep up',
      registers: [health.registry],
      collect() {
        this.set(accessLog.dropped());
      },
    });
  }
  const upgrades = createUpgradeProxy({ settings, routes, trust, upstreams, metrics, logger });

  const server = createServer(
    {
      maxHeaderSize: settings.maxHeaderSize,
      headersTimeout: settings.headersTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      keepAliveTimeout: settings.keepAliveTimeoutMs,
      // How often Node checks the two timeouts above (its default, 30 s, would blur them).
      connectionsCheckingInterval: Math.max(
        50,
        Math.min(
          1000,
          Math.floor(
            Math.min(settings.headersTimeoutMs, settings.requestTimeoutMs || Infinity) / 4,
          ),
        ),
      ),
      requireHostHeader: true,
      // A request without Content-Length or Transfer-Encoding has no body (RFC 9112 §6.3):
      // Node then skips the body stream's life cycle (end, dump), a tenth of a GET's overhead.
      optimizeEmptyRequests: true,
    },
    proxy.handleRequest,
  );
  // Before any other 'connection' listener: the fast path takes node:http's own off the server.
  const fast =
    settings.fastPath && FAST_PATH_AVAILABLE
      ? installFastPath(
          server,
          {
            maxHeaderSize: settings.maxHeaderSize,
            maxHeaders: settings.maxHeaders,
            keepAliveTimeoutMs: settings.keepAliveTimeoutMs,
          },
          proxy.handleFast,
        )
      : undefined;
  if (settings.fastPath && fast === undefined) {
    log.warn('this Node has no _http_common parser: every request goes through node:http');
  }
  // One more than allowed, so that "too many" is seen (and answered 431) rather than truncated.
  server.maxHeadersCount = settings.maxHeaders + 1;
  server.maxConnections = settings.maxConnections;
  // CLIENT_IDLE_TIMEOUT by a sweep, not `server.timeout` (a socket timer re-armed per request).
  const idleSweep = createClientIdleSweep(settings.clientIdleTimeoutMs);
  server.on('upgrade', upgrades.handleUpgrade);
  server.on('connection', (socket: Socket) => {
    metrics.connections.inc();
    metrics.connectionsTotal.inc();
    httpConnections++;
    idleSweep.watch(socket);
    socket.once('close', () => {
      metrics.connections.dec();
      httpConnections--;
    });
  });
  server.on('drop', () => {
    metrics.rejected('too_many_connections');
    log.warn({ limit: settings.maxConnections }, 'connection dropped: MAX_CONNECTIONS reached');
  });
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    let error: GatewayError;
    let reason: RejectReason;
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      // Node reports both limits as a header overflow.
      error = gatewayError(
        'GATEWAY_HEADERS_TOO_LARGE',
        `The request head exceeds MAX_HEADER_SIZE (${settings.maxHeaderSize} bytes) or MAX_HEADERS (${settings.maxHeaders} fields).`,
      );
      reason = 'headers_too_large';
    } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      error = gatewayError('GATEWAY_REQUEST_TIMEOUT', 'The request did not arrive in time.');
      reason = 'request_timeout';
    } else {
      error = gatewayError(
        'GATEWAY_BAD_REQUEST',
        `Malformed request (${err.code ?? err.message}).`,
      );
      reason = 'bad_request';
    }
    metrics.rejected(reason);
    log.info({ code: err.code, reason }, 'client error');
    writeRawProblem(socket, error, {});
  });

  const tcp = createTcpProxy({ settings, upstreams, metrics, logger });
  gauges = {
    inFlight: () => proxy.inFlight(),
    tcp: () => tcp.open(),
    websockets: () => upgrades.open(),
  };

  return {
    server,
    tcp,
    upstreams,
    routes,
    metrics,
    proxy,
    upgrades,
    fastPath: fast,
    dashboard,
    startup,
    setRoutes(specs, source) {
      routes.current = compile(specs, source);
    },
    async close(graceMs) {
      proxy.setDraining();
      startup.close();
      const streamGraceMs = Math.min(graceMs, settings.streamDrainTimeoutMs);
      const cutStreams = setTimeout(() => {
        const streams = proxy.endStreams();
        const tunnels = upgrades.open();
        upgrades.destroyAll();
        if (streams + tunnels > 0) log.info({ streams, tunnels }, 'closed streams and tunnels');
      }, streamGraceMs);
      // Dashboards' event streams never end on their own: end them as the listener stops.
      const dashboardClosed = dashboard.close();
      // Fast-path connections are not node:http's to close.
      const [httpInTime, tcpInTime, fastInTime] = await Promise.all([
        closeHttpServer(server, graceMs),
        tcp.close(streamGraceMs),
        fast?.close(graceMs) ?? true,
      ]);
      clearTimeout(cutStreams);
      idleSweep.close();
      await dashboardClosed;
      await upstreams.close();
      return httpInTime && tcpInTime && fastInTime;
    },
  };
}
