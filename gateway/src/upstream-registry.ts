import { connect as netConnect } from 'node:net';
import { UpstreamPool, type RequestControl, type ResponseHandler } from './upstream-pool';
import type { Logger } from '@netlab/shared';
import { parseHostPort, type GatewaySettings } from './config';

/**
 * Every upstream instance the gateway knows, from `UPSTREAMS` and from NATS discovery, with its
 * health and its keep-alive pool. Health is active (the readiness path polled every
 * HEALTH_INTERVAL) and passive (transport failures eject an instance until a probe succeeds).
 * Only `healthy` instances get traffic; the balancer picks among them.
 */
export type InstanceState = 'unknown' | 'healthy' | 'unhealthy' | 'ejected';
export type InstanceSource = 'static' | 'nats';

export interface InstanceDescriptor {
  service: string;
  /** `http://host:port`: proxied to, and probed at the readiness path. */
  http?: string | undefined;
  /** `host:port`: the TCP listener's target (tcp-echo). */
  tcp?: string | undefined;
  /** Instance name (NATS events carry it) or id. */
  name?: string | undefined;
  /** NATS micro service id. */
  id?: string | undefined;
  version?: string | undefined;
  /** A readiness path the instance advertises (metadata `readiness`), over the configured one. */
  healthPath?: string | undefined;
  /** Its NATS micro service metadata (the dashboard shows e.g. `database`). */
  metadata?: Readonly<Record<string, string>> | undefined;
}

export interface Instance {
  readonly key: string;
  readonly service: string;
  name: string;
  id: string | undefined;
  version: string | undefined;
  readonly http: string | undefined;
  readonly tcp: { readonly host: string; readonly port: number } | undefined;
  readonly healthPath: string;
  readonly sources: Set<InstanceSource>;
  state: InstanceState;
  /** Requests (or TCP connections) in flight: what least-outstanding balancing compares. */
  outstanding: number;
  requests: number;
  /** Consecutive transport failures seen by the proxy (passive health). */
  failures: number;
  /** Consecutive failed probes. */
  probeFailures: number;
  lastProbe: { at: string; ok: boolean; detail: string } | undefined;
  readonly addedAt: number;
  /** NATS metadata as last announced; empty for `UPSTREAMS` instances. */
  metadata: Readonly<Record<string, string>>;
  /** Filled lazily by the dashboard (the instance's per-second traffic series). */
  trafficSlot: unknown;
  /** The keep-alive pool; undefined for TCP-only instances. */
  readonly pool: UpstreamPool | undefined;
  /**
   * One connection of its own for readiness probes: a probe queued behind busy connections
   * would time out and take a healthy but busy instance out of rotation.
   */
  readonly probePool: UpstreamPool | undefined;
  probing: boolean;
  removed: boolean;
}

export type FailureKind = 'connect' | 'reset' | 'timeout' | 'bad_response';

export interface UpstreamRegistry {
  /** Adds an instance (or a source to one with the same address) and probes it at once. */
  add(desc: InstanceDescriptor, source: InstanceSource): Instance;
  /** Removes a source from an instance; the instance goes when it has none left. */
  remove(instance: Instance, source: InstanceSource): void;
  findByNatsId(id: string): Instance | undefined;
  list(service?: string): Instance[];
  services(): string[];
  /** A healthy instance of `service` that serves HTTP, other than `exclude`. */
  pick(service: string, exclude?: Instance): Instance | undefined;
  /** A healthy instance of `service` with a TCP address, other than `exclude`. */
  pickTcp(service: string, exclude?: Instance): Instance | undefined;
  reportSuccess(instance: Instance): void;
  /** Calls `listener` after every change of an instance's state. */
  onStateChange(listener: (instance: Instance) => void): void;
  reportFailure(instance: Instance, kind: FailureKind): void;
  /** Probes every instance now (tests; discovery after adding). */
  probeAll(): Promise<void>;
  close(): Promise<void>;
}

export interface UpstreamRegistryOptions {
  settings: Pick<
    GatewaySettings,
    | 'balancer'
    | 'healthIntervalMs'
    | 'healthTimeoutMs'
    | 'healthPath'
    | 'healthPaths'
    | 'unhealthyAfter'
    | 'ejectAfter'
    | 'upstreamConnectTimeoutMs'
    | 'upstreamHeadersTimeoutMs'
    | 'upstreamBodyTimeoutMs'
    | 'upstreamMaxConnections'
    | 'upstreamKeepAliveTimeoutMs'
    | 'maxHeaderSize'
  >;
  logger: Logger;
}

interface ServiceEntry {
  all: Instance[];
  http: Instance[];
  tcp: Instance[];
  rr: number;
}

function pickFrom(
  list: readonly Instance[],
  exclude: Instance | undefined,
  entry: ServiceEntry,
  roundRobin: boolean,
): Instance | undefined {
  const n = list.length;
  if (n === 0) return undefined;
  if (n === 1) return list[0] === exclude ? undefined : list[0];
  if (roundRobin) {
    for (let k = 0; k < n; k++) {
      const inst = list[entry.rr++ % n]!;
      if (inst !== exclude) return inst;
    }
    return undefined;
  }
  // Power of two choices: two distinct random instances, the one with fewer in flight.
  const i = Math.floor(Math.random() * n);
  let j = Math.floor(Math.random() * (n - 1));
  if (j >= i) j++;
  const a = list[i]!;
  const b = list[j]!;
  if (a === exclude) return b;
  if (b === exclude) return a;
  return b.outstanding < a.outstanding ? b : a;
}

export function createUpstreamRegistry(opts: UpstreamRegistryOptions): UpstreamRegistry {
  const { settings } = opts;
  const log = opts.logger.child({ component: 'upstreams' });
  const byKey = new Map<string, Instance>();
  const byService = new Map<string, ServiceEntry>();
  const roundRobin = settings.balancer === 'round-robin';
  let closed = false;

  const entryOf = (service: string): ServiceEntry => {
    let e = byService.get(service);
    if (e === undefined) {
      e = { all: [], http: [], tcp: [], rr: 0 };
      byService.set(service, e);
    }
    return e;
  };

  /** The balancer's lists change only here, never per request. */
  const rebuild = (service: string): void => {
    const e = entryOf(service);
    e.http = e.all.filter((i) => i.state === 'healthy' && i.pool !== undefined);
    e.tcp = e.all.filter((i) => i.state === 'healthy' && i.tcp !== undefined);
  };

  const stateListeners: ((inst: Instance) => void)[] = [];
  const setState = (inst: Instance, state: InstanceState, why: string): void => {
    if (inst.state === state) return;
    const from = inst.state;
    inst.state = state;
    rebuild(inst.service);
    for (const listener of stateListeners) listener(inst);
    const level = state === 'healthy' || from === 'unknown' ? 'info' : 'warn';
    log[level](
      {
        upstream: inst.service,
        upstreamInstance: inst.name,
        address: inst.http ?? inst.tcp,
        from,
        to: state,
        why,
      },
      'upstream state changed',
    );
  };

  interface ProbeResult {
    ok: boolean;
    detail: string;
    /** The instance answered (a status), as opposed to an error or silence. */
    answered: boolean;
  }

  const probeHttp = (inst: Instance): Promise<ProbeResult> =>
    new Promise((resolve) => {
      const url = new URL(inst.http!);
      let status = 0;
      let control: RequestControl | undefined;
      let done = false;
      const settle = (result: ProbeResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(result);
      };
      // Also while queued behind busy connections: a probe that waits is a failed probe.
      const timer = setTimeout(() => {
        const err = new Error(`no answer within ${settings.healthTimeoutMs}ms`);
        settle({ ok: false, detail: err.message, answered: false });
        control?.abort(err);
      }, settings.healthTimeoutMs);
      const handler: ResponseHandler = {
        onStart: (c) => {
          control = c;
          if (done) c.abort(new Error('probe timed out while queued'));
        },
        onHead: (code) => (status = code),
        onData: () => true,
        onEnd: () => {
          const ok = status >= 200 && status < 300;
          settle({ ok, detail: `${inst.healthPath} answered ${status}`, answered: true });
        },
        onError: (err) =>
          settle({ ok: false, detail: err.message || String(err), answered: false }),
      };
      inst.probePool!.dispatch(
        {
          method: 'GET',
          path: inst.healthPath,
          headerLines: `host: ${url.host}\r\nuser-agent: netlab-gateway-probe\r\n`,
          body: null,
          contentLength: -1,
          headersTimeoutMs: settings.healthTimeoutMs,
          bodyTimeoutMs: settings.healthTimeoutMs,
        },
        handler,
      );
    });

  const probeTcp = (inst: Instance): Promise<ProbeResult> =>
    new Promise((resolve) => {
      const socket = netConnect({ host: inst.tcp!.host, port: inst.tcp!.port });
      const done = (ok: boolean, detail: string): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve({ ok, detail, answered: ok });
      };
      const timer = setTimeout(() => done(false, 'connect timed out'), settings.healthTimeoutMs);
      socket.once('connect', () => done(true, 'accepted a connection'));
      socket.once('error', (err) => done(false, err.message));
    });

  const probe = async (inst: Instance): Promise<void> => {
    if (inst.probing || inst.removed || closed) return;
    inst.probing = true;
    let result: ProbeResult;
    try {
      result = inst.probePool !== undefined ? await probeHttp(inst) : await probeTcp(inst);
    } catch (err) {
      result = { ok: false, detail: (err as Error).message || String(err), answered: false };
    } finally {
      inst.probing = false;
    }
    if (inst.removed) return;
    inst.lastProbe = { at: new Date().toISOString(), ok: result.ok, detail: result.detail };
    if (result.ok) {
      inst.probeFailures = 0;
      inst.failures = 0;
      setState(inst, 'healthy', result.detail);
      return;
    }
    inst.probeFailures++;
    // An answer that says "not ready" (503 while draining) counts at once; silence may be a blip.
    if (
      result.answered ||
      inst.probeFailures >= settings.unhealthyAfter ||
      inst.state === 'unknown'
    ) {
      if (inst.state !== 'ejected') setState(inst, 'unhealthy', result.detail);
    }
  };

  const probeAll = async (): Promise<void> => {
    await Promise.all([...byKey.values()].map(probe));
  };

  const timer = setInterval(() => void probeAll(), settings.healthIntervalMs);
  timer.unref();

  const registry: UpstreamRegistry = {
    add(desc, source) {
      const tcp = desc.tcp === undefined ? undefined : parseHostPort(desc.tcp);
      const http = desc.http === undefined ? undefined : new URL(desc.http).origin;
      const key = `${desc.service}|${desc.tcp ?? http ?? ''}`;
      const existing = byKey.get(key);
      if (existing !== undefined) {
        existing.sources.add(source);
        if (desc.id !== undefined) existing.id = desc.id;
        if (desc.name !== undefined && source === 'nats') existing.name = desc.name;
        if (desc.version !== undefined) existing.version = desc.version;
        if (desc.metadata !== undefined && source === 'nats') existing.metadata = desc.metadata;
        return existing;
      }
      const url = http === undefined ? undefined : new URL(http);
      const poolOf = (maxConnections: number): UpstreamPool | undefined =>
        url === undefined
          ? undefined
          : new UpstreamPool({
              // URL keeps IPv6 hosts bracketed; the socket wants them bare.
              host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
              port: Number(url.port || 80),
              maxConnections,
              keepAliveTimeoutMs: settings.upstreamKeepAliveTimeoutMs,
              connectTimeoutMs: settings.upstreamConnectTimeoutMs,
              maxHeaderSize: Math.max(settings.maxHeaderSize, 16 * 1024),
            });
      const pool = poolOf(settings.upstreamMaxConnections);
      const probePool = poolOf(1);
      const inst: Instance = {
        key,
        service: desc.service,
        name: desc.name ?? desc.id ?? desc.tcp ?? http ?? key,
        id: desc.id,
        version: desc.version,
        http,
        tcp,
        healthPath: desc.healthPath ?? settings.healthPaths[desc.service] ?? settings.healthPath,
        sources: new Set([source]),
        state: 'unknown',
        outstanding: 0,
        requests: 0,
        failures: 0,
        probeFailures: 0,
        lastProbe: undefined,
        addedAt: Date.now(),
        metadata: desc.metadata ?? {},
        trafficSlot: undefined,
        pool,
        probePool,
        probing: false,
        removed: false,
      };
      byKey.set(key, inst);
      entryOf(inst.service).all.push(inst);
      log.info(
        { upstream: inst.service, upstreamInstance: inst.name, http, tcp: desc.tcp, source },
        'upstream instance added',
      );
      void probe(inst);
      return inst;
    },
    remove(inst, source) {
      inst.sources.delete(source);
      if (inst.sources.size > 0 || inst.removed) return;
      inst.removed = true;
      byKey.delete(inst.key);
      const e = entryOf(inst.service);
      e.all = e.all.filter((i) => i !== inst);
      rebuild(inst.service);
      log.info(
        { upstream: inst.service, upstreamInstance: inst.name },
        'upstream instance removed',
      );
      // In-flight requests finish; the pool then closes its keep-alive connections.
      inst.pool?.close();
      inst.probePool?.destroy();
    },
    findByNatsId(id) {
      for (const inst of byKey.values()) if (inst.id === id) return inst;
      return undefined;
    },
    list(service) {
      if (service === undefined) return [...byKey.values()];
      return [...(byService.get(service)?.all ?? [])];
    },
    services: () => [...byService.keys()].filter((s) => (byService.get(s)?.all.length ?? 0) > 0),
    pick(service, exclude) {
      const e = byService.get(service);
      return e === undefined ? undefined : pickFrom(e.http, exclude, e, roundRobin);
    },
    pickTcp(service, exclude) {
      const e = byService.get(service);
      return e === undefined ? undefined : pickFrom(e.tcp, exclude, e, roundRobin);
    },
    reportSuccess(inst) {
      inst.failures = 0;
    },
    onStateChange(listener) {
      stateListeners.push(listener);
    },
    reportFailure(inst, kind) {
      inst.failures++;
      // Refused connections mean nobody listens: eject at once. Resets and timeouts may be one
      // bad request, so it takes EJECT_AFTER in a row. A probe success re-admits either way.
      if (
        inst.state === 'healthy' &&
        (kind === 'connect' || inst.failures >= settings.ejectAfter)
      ) {
        setState(inst, 'ejected', `${inst.failures} ${kind} failure(s) in a row`);
      }
    },
    probeAll,
    close() {
      closed = true;
      clearInterval(timer);
      for (const inst of byKey.values()) {
        inst.pool?.destroy();
        inst.probePool?.destroy();
      }
      return Promise.resolve();
    },
  };
  return registry;
}
