import { setTimeout as sleep } from 'node:timers/promises';
import { Kvm } from '@nats-io/kv';
import { CONFIG_BUCKET, configKeys, type Logger, type NatsConnection } from '@netlab/shared';
import type { GatewayMetrics } from './metrics';
import { parseRouteJson, type RouteSpec } from './routes';

/**
 * Live route tables from the KV bucket `netlab_config`, key `gateway.routes` (a JSON table in
 * the ROUTES_FILE format). A valid value replaces the table at once; an invalid one is logged
 * and ignored (the table in force stays); deleting the key goes back to ROUTES_FILE or the default.
 * The bucket is created when missing; without JetStream the watch retries in the background.
 */
export interface RouteConfigWatch {
  close(): Promise<void>;
}

export interface RouteConfigWatchOptions {
  nc: NatsConnection;
  logger: Logger;
  metrics: GatewayMetrics;
  /** A valid table arrived (source: `kv:gateway.routes@<revision>`). */
  onTable(specs: RouteSpec[], source: string): void;
  /** The key was deleted: go back to the start-up table. */
  onRevert(): void;
  retryMs?: number;
}

export function watchRouteConfig(opts: RouteConfigWatchOptions): RouteConfigWatch {
  const log = opts.logger.child({ component: 'route-config' });
  const key = configKeys.gatewayRoutes;
  let stop: (() => void) | undefined;
  let closed = false;
  const pause = new AbortController();

  const run = async (): Promise<void> => {
    while (!closed) {
      try {
        const kv = await new Kvm(opts.nc).create(CONFIG_BUCKET, { history: 5 });
        const entries = await kv.watch({ key });
        stop = () => entries.stop();
        if (closed) entries.stop();
        log.info({ bucket: CONFIG_BUCKET, key }, 'watching the route table in KV');
        for await (const e of entries) {
          const source = `kv:${key}@${e.revision}`;
          if (e.operation !== 'PUT') {
            log.info({ source }, 'KV route table deleted; back to the start-up table');
            opts.metrics.routeReloads.inc({ source: 'kv', result: 'reverted' });
            opts.onRevert();
            continue;
          }
          try {
            const specs = parseRouteJson(e.string(), source);
            opts.onTable(specs, source);
            opts.metrics.routeReloads.inc({ source: 'kv', result: 'applied' });
            log.info({ source, routes: specs.length }, 'route table applied from KV');
          } catch (err) {
            opts.metrics.routeReloads.inc({ source: 'kv', result: 'invalid' });
            log.error({ err, source }, 'invalid route table in KV; keeping the current one');
          }
        }
      } catch (err) {
        if (closed || opts.nc.isClosed()) return;
        log.warn({ err }, 'cannot watch the route table in KV; retrying');
      }
      if (closed || opts.nc.isClosed()) return;
      await sleep(opts.retryMs ?? 5000, undefined, { signal: pause.signal }).catch(() => undefined);
    }
  };
  const running = run();

  return {
    async close() {
      closed = true;
      stop?.();
      pause.abort();
      await running;
    },
  };
}
