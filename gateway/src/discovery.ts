import { Svcm, type ServiceInfo } from '@nats-io/services';
import { subjects, type Logger, type NatsConnection, type ServiceName } from '@netlab/shared';
import type { GatewayMetrics } from './metrics';
import type { InstanceDescriptor, UpstreamRegistry } from './upstream-registry';

/**
 * Finds upstream instances over NATS, two ways:
 * - events: every instance announces `netlab.events.<service>.up` when it joins and `.down` when
 *   it leaves (the shared runtime does it), so an instance is added or removed at once;
 * - sweeps: every DISCOVERY_INTERVAL, `$SRV.INFO` lists every registered micro service (what
 *   `nats micro ls` shows), which finds instances that started before the gateway and drops
 *   those that vanished without a `down` (killed): missing from two sweeps in a row *and* failing
 *   their health checks. One that still answers its readiness probe stays: a slow `$SRV.INFO`
 *   reply or an instance that lost its own NATS connection is no reason to stop sending it work.
 * While NATS is unreachable nothing is removed: the gateway keeps routing with what it knew, and
 * active health checks still take dead instances out of rotation.
 */
export interface Discovery {
  /** One `$SRV.INFO` round now (tests, and the first one at start). */
  sweep(): Promise<void>;
  close(): Promise<void>;
}

export interface DiscoveryOptions {
  nc: NatsConnection;
  upstreams: UpstreamRegistry;
  metrics: GatewayMetrics;
  logger: Logger;
  intervalMs: number;
  /** Services never proxied to (the gateway itself). */
  ignore?: readonly string[];
}

/** Sweeps in a row an instance may be missing from `$SRV.INFO` before it is dropped. */
const MISSES_BEFORE_REMOVAL = 2;

interface AnnouncedInstance {
  instance?: string;
  id?: string;
  version?: string;
  metadata?: Record<string, string>;
}

export function describeInstance(
  service: string,
  metadata: Record<string, string> | undefined,
  ids: { id?: string | undefined; name?: string | undefined; version?: string | undefined },
): InstanceDescriptor | undefined {
  const http = metadata?.http;
  const tcp = metadata?.tcp;
  const validHttp = http !== undefined && URL.canParse(http) && http.startsWith('http://');
  if (!validHttp && tcp === undefined) return undefined;
  return {
    service,
    http: validHttp ? http : undefined,
    tcp,
    id: ids.id,
    // `$SRV.INFO` has no instance name; `up` events do, and so does metadata that carries one.
    name: ids.name ?? metadata?.instance,
    version: ids.version,
    healthPath: metadata?.readiness,
    metadata,
  };
}

export function startDiscovery(opts: DiscoveryOptions): Discovery {
  const { nc, upstreams, metrics } = opts;
  const log = opts.logger.child({ component: 'discovery' });
  const ignore = new Set(opts.ignore ?? ['gateway']);
  const misses = new Map<string, number>();
  const client = new Svcm(nc).client({ strategy: 'stall', maxWait: 2000, stall: 300 });
  let closed = false;

  const add = (desc: InstanceDescriptor | undefined, how: string): void => {
    if (desc === undefined || ignore.has(desc.service)) return;
    const before = upstreams.list(desc.service).length;
    const inst = upstreams.add(desc, 'nats');
    misses.delete(inst.key);
    if (upstreams.list(desc.service).length > before) {
      metrics.discoveryEvents.inc({ upstream: desc.service, event: 'added' });
      log.debug({ upstream: desc.service, upstreamInstance: inst.name, how }, 'discovered');
    }
  };

  const onEvent = (kind: 'up' | 'down', service: string, data: AnnouncedInstance): void => {
    if (ignore.has(service)) return;
    if (kind === 'up') {
      add(
        describeInstance(service, data.metadata, {
          id: data.id,
          name: data.instance,
          version: data.version,
        }),
        'event',
      );
      return;
    }
    const inst = data.id === undefined ? undefined : upstreams.findByNatsId(data.id);
    if (inst !== undefined) {
      upstreams.remove(inst, 'nats');
      metrics.discoveryEvents.inc({ upstream: service, event: 'removed' });
    }
  };

  const subscriptions: ReturnType<NatsConnection['subscribe']>[] = (['up', 'down'] as const).map(
    (kind) =>
      nc.subscribe(subjects.event('*' as ServiceName, kind), {
        callback: (err, msg) => {
          if (err !== null) return;
          const service = msg.subject.split('.')[2] ?? '';
          try {
            onEvent(kind, service, msg.json<AnnouncedInstance>());
          } catch (e) {
            log.warn({ err: e, subject: msg.subject }, 'ignoring a malformed instance event');
          }
        },
      }),
  );

  let sweeping: Promise<void> | undefined;
  const sweepOnce = async (): Promise<void> => {
    if (closed || nc.isClosed()) return;
    const infos: ServiceInfo[] = [];
    try {
      for await (const info of await client.info()) infos.push(info);
    } catch (err) {
      log.debug({ err }, 'discovery sweep failed; keeping the instances we know');
      return;
    }
    const seen = new Set<string>();
    for (const info of infos) {
      const desc = describeInstance(info.name, info.metadata, {
        id: info.id,
        version: info.version,
      });
      if (desc === undefined || ignore.has(desc.service)) continue;
      add(desc, 'sweep');
      const inst = upstreams.findByNatsId(info.id);
      if (inst !== undefined) seen.add(inst.key);
    }
    for (const inst of upstreams.list()) {
      if (!inst.sources.has('nats') || seen.has(inst.key)) continue;
      const n = (misses.get(inst.key) ?? 0) + 1;
      misses.set(inst.key, n);
      if (n >= MISSES_BEFORE_REMOVAL && inst.state !== 'healthy') {
        misses.delete(inst.key);
        log.info(
          { upstream: inst.service, upstreamInstance: inst.name },
          'instance left without a word',
        );
        upstreams.remove(inst, 'nats');
        metrics.discoveryEvents.inc({ upstream: inst.service, event: 'removed' });
      }
    }
  };
  const sweep = (): Promise<void> =>
    (sweeping ??= sweepOnce().finally(() => (sweeping = undefined)));

  const timer = setInterval(() => void sweep(), opts.intervalMs);
  timer.unref();
  void sweep();

  return {
    sweep,
    async close() {
      closed = true;
      clearInterval(timer);
      for (const s of subscriptions) s.unsubscribe();
      await sweeping;
    },
  };
}
