import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  advertisedHost,
  ensureEventsStream,
  httpUrl,
  isNetlabError,
  listen,
  loadConfig,
  runtimeConfig,
  startRuntime,
} from '@netlab/shared';
import { configSchema, gatewaySettings, type GatewayEnv } from './config';
import { createAccessLog } from './access-log';
import { startDiscovery } from './discovery';
import { createGateway } from './gateway';
import { watchRouteConfig } from './route-config-watch';
import { DEFAULT_ROUTES, loadRoutesFile, type RouteSpec } from './routes';
import { runPrimary, WORKER_SHUTDOWN } from './workers';

const version = (
  JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

/** Part of the shutdown grace kept for NATS to drain after the listeners closed. */
const NATS_DRAIN_RESERVE_MS = 1000;

async function runGateway(env: GatewayEnv): Promise<void> {
  const config = { ...runtimeConfig(env) };
  if (cluster.isWorker) {
    // Workers are instances of their own; only the primary talks to the supervisor.
    config.instance = `${env.NETLAB_INSTANCE ?? `gateway-${process.ppid}`}-w${cluster.worker?.id}`;
    config.controlSocket = undefined;
  }
  const runtime = await startRuntime({
    service: 'gateway',
    version,
    config,
    installSignalHandlers: !cluster.isWorker,
  });
  const { logger } = runtime;
  if (cluster.isWorker) {
    const drain = (reason: string): void =>
      void runtime.lifecycle.shutdown(reason).then((code) => process.exit(code));
    process.on('SIGTERM', () => undefined);
    process.on('SIGINT', () => undefined);
    process.on('message', (m) => {
      if (m === WORKER_SHUTDOWN) drain('primary asked');
    });
    process.on('disconnect', () => drain('primary gone'));
  }

  let startupRoutes: readonly RouteSpec[] = DEFAULT_ROUTES;
  let startupSource = 'default';
  if (env.ROUTES_FILE !== undefined) {
    try {
      startupRoutes = loadRoutesFile(env.ROUTES_FILE);
      startupSource = env.ROUTES_FILE;
    } catch (err) {
      process.stderr.write(`ROUTES_FILE=${env.ROUTES_FILE}: ${(err as Error).message}\n`);
      process.exit(2);
    }
  }
  const settings = gatewaySettings(env);
  const gateway = createGateway({
    settings,
    logger,
    health: runtime.health,
    beginWork: () => runtime.lifecycle.beginWork(),
    // Pretty output is for a terminal, where the batching would only reorder lines.
    accessLog:
      env.LOG_FORMAT === 'json'
        ? createAccessLog({ service: 'gateway', instance: runtime.instance, level: env.LOG_LEVEL })
        : undefined,
    routes: startupRoutes,
    routesSource: startupSource,
    identity: { instance: runtime.instance, version },
  });
  // Until the first instances are known, readiness says so and requests wait for them.
  gateway.startup.begin();
  for (const u of env.UPSTREAMS ?? []) gateway.upstreams.add(u, 'static');

  const { port } = await listen(gateway.server, env.PORT, env.HOST);
  const tcpPort =
    env.TCP_PORT === 'off'
      ? undefined
      : (await listen(gateway.tcp.server, env.TCP_PORT, env.HOST)).port;
  runtime.lifecycle.onShutdown('gateway', () =>
    gateway.close(Math.max(0, config.shutdownGraceMs - NATS_DRAIN_RESERVE_MS)),
  );
  logger.info(
    { port, tcpPort, routes: startupSource, upstreams: env.UPSTREAMS?.length ?? 0 },
    'gateway listening',
  );

  const host = advertisedHost(env.HOST, env.ADVERTISE_HOST);
  const metadata: Record<string, string> = { http: httpUrl(host, port) };
  if (tcpPort !== undefined) metadata.tcp = `${host.includes(':') ? `[${host}]` : host}:${tcpPort}`;
  const joined = await runtime.joinNats(metadata);
  if (joined === undefined) {
    gateway.startup.sourcesKnown();
    return;
  }
  const { nc } = joined.nats;
  // Discovery first: requests are waiting for its first round.
  const discovery = startDiscovery({
    nc,
    upstreams: gateway.upstreams,
    metrics: gateway.metrics,
    logger,
    intervalMs: settings.discoveryIntervalMs,
  });
  void discovery.sweep().then(() => gateway.startup.sourcesKnown());
  // Labs without the `netlab` supervisor (compose) have no one else to create the stream.
  await ensureEventsStream(nc, settings.eventsStream).catch((err: unknown) =>
    logger.warn(
      { err },
      'could not create the events stream; the dashboard shows live events only',
    ),
  );
  gateway.dashboard.attachNats(nc);
  const routeWatch = watchRouteConfig({
    nc,
    logger,
    metrics: gateway.metrics,
    onTable: (specs, source) => gateway.setRoutes(specs, source),
    onRevert: () => gateway.setRoutes(startupRoutes, startupSource),
  });
  // Registered after joinNats's own hook: these only stop timers once NATS has drained.
  runtime.lifecycle.onShutdown('discovery', () =>
    Promise.all([discovery.close(), routeWatch.close()]),
  );
}

async function main(): Promise<void> {
  const env = loadConfig(configSchema, process.env);
  if (env.WORKERS > 1 && cluster.isPrimary) {
    await runPrimary(env, version);
    return;
  }
  await runGateway(env);
}

main().catch((err: unknown) => {
  const message = isNetlabError(err) ? err.message : ((err as Error).stack ?? String(err));
  process.stderr.write(`gateway failed to start: ${message}\n`);
  process.exit(1);
});
