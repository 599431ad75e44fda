import {
  advertisedHost,
  closeHttpServer,
  createHealthServer,
  httpUrl,
  listen,
  loadConfig,
  packageVersion,
  startRuntime,
} from '@netlab/shared';
import { configSchema } from './config';
import { registerEchoMetrics } from './echo-metrics';
import { hostPort, listenEcho } from './listen-echo';
import { startStatsReporter, type EchoStats } from './stats-reporter';
import { createTcpEchoServer } from './tcp-echo-server';
import { createUdpEchoSocket } from './udp-echo-socket';

/** The composition root: the only file that reads the environment. */
async function main(): Promise<void> {
  const config = loadConfig(configSchema, process.env);
  const version = packageVersion(__dirname);
  const runtime = await startRuntime({ service: 'tcp-echo', version, config: config.runtime });
  const { logger, health, lifecycle } = runtime;
  const { host: bindHost, port, shutdownGraceMs } = config.runtime;

  const tcp = createTcpEchoServer({
    logger,
    maxConnections: config.maxConnections,
    idleTimeoutMs: config.idleTimeoutMs,
    writeDeadlineMs: config.writeDeadlineMs,
    keepAliveMs: config.keepAliveMs,
    noDelay: config.noDelay,
    bufferBytes: config.bufferBytes,
    trackSession: () => lifecycle.beginWork(),
  });
  const udp = createUdpEchoSocket({
    logger,
    maxDatagram: config.udpMaxDatagram,
    maxQueueBytes: config.udpMaxQueueBytes,
  });
  const healthServer = createHealthServer(health);

  const echoAddress = await listenEcho(tcp.server, udp, port, bindHost);
  const healthAddress = await listen(healthServer, config.healthPort, bindHost);
  health.addReadinessCheck('tcp', () => tcp.server.listening);

  // Sessions may run until shortly before the grace period ends; the rest is kept for closing
  // them and for NATS to drain, so that a clean shutdown still exits 0.
  const reserveMs = Math.min(1000, shutdownGraceMs / 2);
  let reporter: { close(): void } | undefined;
  lifecycle.onShutdown('udp', () => udp.close());
  lifecycle.onShutdown('tcp', () => tcp.shutdown(shutdownGraceMs - reserveMs, reserveMs / 2));
  lifecycle.onShutdown('stats', () => reporter?.close());
  lifecycle.onShutdown('health', () => closeHttpServer(healthServer, reserveMs / 4));

  const host = advertisedHost(bindHost, config.runtime.advertiseHost);
  const echoAt = hostPort(host, echoAddress.port);
  const startedAt = performance.now();
  const snapshot = (): EchoStats => ({
    instance: runtime.instance,
    version,
    at: new Date().toISOString(),
    uptimeMs: Math.round(performance.now() - startedAt),
    tcp: { address: echoAt, ...tcp.stats() },
    udp: { address: echoAt, ...udp.stats() },
  });
  registerEchoMetrics(health.registry, { tcp: () => tcp.stats(), udp: () => udp.stats() });
  logger.info(
    {
      port: echoAddress.port,
      healthPort: healthAddress.port,
      tcp: echoAt,
      udp: echoAt,
      http: httpUrl(host, healthAddress.port),
    },
    'listening',
  );

  const joined = await runtime.joinNats({
    http: httpUrl(host, healthAddress.port),
    tcp: echoAt,
    udp: echoAt,
  });
  if (joined !== undefined && !lifecycle.isShuttingDown()) {
    reporter = startStatsReporter({
      nats: joined.nats,
      service: joined.service,
      snapshot,
      intervalMs: config.statsIntervalMs,
      logger,
    });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`tcp-echo failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
