import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { connectControl } from './control';
import { createHealth, type Health } from './health';
import { createLifecycle, type Lifecycle } from './lifecycle';
import { createLogger, type Logger } from './logger';
import { connectNats, registerService, type NatsClient, type Service } from './nats';
import { subjects, type ServiceName } from './subjects';
import type { LogLevel } from './config';

/** The `version` of the package whose compiled main.ts lives in `distDir` (pass `__dirname`). */
export function packageVersion(distDir: string): string {
  const pkg = JSON.parse(readFileSync(join(distDir, '..', 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

/** The settings every deployable shares, in camelCase (from {@link commonEnv} variables). */
export interface RuntimeConfig {
  host: string;
  port: number;
  natsServers: readonly string[] | undefined;
  /** NATS user and password (NATS_USER, NATS_PASSWORD); unset: no credentials are sent. */
  natsUser?: string | undefined;
  natsPassword?: string | undefined;
  advertiseHost: string | undefined;
  logLevel: LogLevel;
  logFormat: 'json' | 'pretty';
  shutdownGraceMs: number;
  natsMaxPendingBytes: number;
  controlSocket: string | undefined;
  instance: string | undefined;
}

/** Maps the variables of `commonEnv()` onto {@link RuntimeConfig}. */
export function runtimeConfig(e: {
  HOST: string;
  PORT: number;
  NATS_URL?: string[] | undefined;
  NATS_USER?: string | undefined;
  NATS_PASSWORD?: string | undefined;
  ADVERTISE_HOST?: string | undefined;
  LOG_LEVEL: LogLevel;
  LOG_FORMAT: 'json' | 'pretty';
  SHUTDOWN_GRACE: number;
  NATS_MAX_PENDING: number;
  NETLAB_CONTROL_SOCKET?: string | undefined;
  NETLAB_INSTANCE?: string | undefined;
}): RuntimeConfig {
  return {
    host: e.HOST,
    port: e.PORT,
    natsServers: e.NATS_URL,
    natsUser: e.NATS_USER,
    natsPassword: e.NATS_PASSWORD,
    advertiseHost: e.ADVERTISE_HOST,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    shutdownGraceMs: e.SHUTDOWN_GRACE,
    natsMaxPendingBytes: e.NATS_MAX_PENDING,
    controlSocket: e.NETLAB_CONTROL_SOCKET,
    instance: e.NETLAB_INSTANCE,
  };
}

/**
 * What main.ts builds first: the root logger, health, lifecycle (with signal handlers) and, when
 * run by `netlab up`, the supervisor connection. NATS is joined later with {@link Runtime.joinNats},
 * after the part listens, so that it serves while NATS is still unreachable.
 */
export interface Runtime {
  readonly service: ServiceName;
  readonly version: string;
  readonly instance: string;
  readonly logger: Logger;
  readonly health: Health;
  readonly lifecycle: Lifecycle;
  /**
   * Connects to NATS (waiting as long as it takes), registers the micro service with `metadata`,
   * announces `netlab.events.<service>.up`, and on shutdown announces `down`, stops the service
   * and drains. Resolves undefined in standalone mode (NATS_URL unset).
   */
  joinNats(
    metadata: Record<string, string>,
  ): Promise<{ nats: NatsClient; service: Service } | undefined>;
}

export interface RuntimeOptions {
  service: ServiceName;
  version: string;
  config: RuntimeConfig;
  /** Tests replace it; main.ts leaves process.exit. */
  exit?: (code: number) => void;
  installSignalHandlers?: boolean;
}

export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { config, service, version } = opts;
  const instance = config.instance ?? `${service}-${hostname()}-${process.pid}`;
  const logger = createLogger({
    service,
    instance,
    level: config.logLevel,
    pretty: config.logFormat === 'pretty',
  });
  const health = createHealth({ service, instance });
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const lifecycle = createLifecycle({ logger, health, graceMs: config.shutdownGraceMs, exit });
  if (opts.installSignalHandlers !== false) lifecycle.installSignalHandlers();
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    exit(1);
  });

  if (config.controlSocket !== undefined) {
    const control = await connectControl({
      socketPath: config.controlSocket,
      part: service,
      instance,
      logger,
      status: () => lifecycle.status(),
      onDrain: () => void lifecycle.shutdown('supervisor drain').then(exit),
      onSupervisorLost: () => void lifecycle.shutdown('supervisor lost').then(exit),
    });
    lifecycle.attachControl(control);
  }

  return {
    service,
    version,
    instance,
    logger,
    health,
    lifecycle,
    async joinNats(metadata) {
      if (config.natsServers === undefined) {
        logger.info('NATS_URL is unset: running standalone, without registration');
        return undefined;
      }
      const nats = await connectNats({
        servers: config.natsServers,
        name: instance,
        logger,
        maxPendingBytes: config.natsMaxPendingBytes,
        ...(config.natsUser === undefined ? {} : { user: config.natsUser }),
        ...(config.natsPassword === undefined ? {} : { password: config.natsPassword }),
      });
      // $SRV.INFO carries no instance name: put it in the metadata, for /-/upstreams and dashboards.
      const registered = await registerService(nats.nc, {
        name: service,
        version,
        metadata: { instance, ...metadata },
      });
      const announce = (kind: 'up' | 'down'): void => {
        try {
          nats.publishJson(subjects.event(service, kind), {
            instance,
            id: registered.info().id,
            version,
            metadata,
            at: new Date().toISOString(),
          });
        } catch (err) {
          logger.warn({ err }, `could not announce ${kind}`);
        }
      };
      announce('up');
      lifecycle.onShutdown('nats', async () => {
        announce('down');
        await registered.stop();
        await nats.drain();
      });
      logger.info({ id: registered.info().id, metadata }, 'registered on NATS');
      return { nats, service: registered };
    },
  };
}
