import type { IncomingMessage, ServerResponse } from 'node:http';
import { Svcm } from '@nats-io/services';
import {
  netlabError,
  sendProblem,
  SERVICE_NAMES,
  type Logger,
  type NatsConnection,
} from '@netlab/shared';
import { exemptFromIdleSweep } from '../client-idle-sweep';
import { gatewayError } from '../errors';
import type { RouteStore } from '../http-proxy';
import type { Route } from '../routes';
import type { Instance, UpstreamRegistry } from '../upstream-registry';
import { loadDashboardAssets, sendAsset, type DashboardAssets } from './dashboard-assets';
import { startEventsTail, type EventsTail } from './events-tail';
import { classifyEvent, type DownloadView, type EchoStatsView, type LabEvent } from './lab-events';
import {
  readLatestRun,
  resolveResultFile,
  sendResultFile,
  type LoadResultsState,
} from './load-results';
import { scrapeGauges } from './metrics-scrape';
import { readNatsState, type NatsState } from './nats-monitor';
import {
  GaugeRing,
  TrafficWindow,
  type SeriesPoints,
  type SeriesSummary,
  type TrafficSeries,
} from './traffic-window';

/**
 * The lab dashboard at `/-/dashboard`: a page (static files), a snapshot (`state.json`) and a live
 * stream of the same (`events`, server-sent events). Traffic figures come from the proxy itself
 * (one O(1) call per finished request into per-second rings); topology from the upstream
 * registry (NATS discovery); events from the NETLAB_EVENTS stream; nats-server from its
 * monitoring endpoint; fetcher queues from the fetcher instances' `/metrics`; the last load test
 * from the results folder. Pollers run only while a page is open (or a snapshot is asked for).
 */
export interface DashboardSettings {
  enabled: boolean;
  /** Seconds of traffic kept (and charted). */
  windowSeconds: number;
  /** How often nats-server, fetchers and the results folder are read while a page is open. */
  pollIntervalMs: number;
  pollTimeoutMs: number;
  /** Largest answer a poll reads (nats-server's /connz, an instance's /metrics). */
  pollMaxBytes: number;
  /** Event streams open at once. */
  maxClients: number;
  /** Events kept for the tail (and replayed from the stream at start). */
  maxEvents: number;
  /** A page that does not read its stream is dropped once this much waits for it. */
  clientBufferBytes: number;
  natsMonitorUrl: string | undefined;
  resultsDir: string;
}

/** Figures the dashboard samples once a second from the gateway. */
export interface GatewayGauges {
  httpConnections: number;
  inFlight: number;
  tcpConnections: number;
  websockets: number;
}

export interface DashboardDeps {
  settings: DashboardSettings;
  logger: Logger;
  upstreams: UpstreamRegistry;
  routes: RouteStore;
  gauges: () => GatewayGauges;
  /** The gateway's own identity, for the topology. */
  self: () => { instance: string; version: string; startedAt: string };
}

/** What the proxy calls once per finished request. */
export interface TrafficRecorder {
  record(route: Route, inst: Instance | undefined, status: number, ms: number): void;
}

export interface Dashboard extends TrafficRecorder {
  /** Serves a path under `/-/dashboard`. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): void;
  /** Starts the event tail and `$SRV.STATS` reads (main.ts, once NATS is joined). */
  attachNats(nc: NatsConnection): void;
  /** The snapshot `state.json` answers (polls first when the last poll is stale). */
  state(): Promise<DashboardState>;
  clients(): number;
  /** Ends every event stream and stops timers and the tail. */
  close(): Promise<void>;
}

export interface InstanceView {
  key: string;
  name: string;
  id: string | null;
  version: string | null;
  host: string | null;
  http: string | null;
  tcp: string | null;
  state: string;
  sources: string[];
  /** ISO start time from `$SRV.STATS`, else when the gateway found it. */
  since: string;
  sinceSource: 'nats' | 'gateway';
  outstanding: number;
  requests: number;
  lastProbe: { at: string; ok: boolean; detail: string } | null;
  metadata: Record<string, string>;
}

export interface Topology {
  gateway: { instance: string; version: string; startedAt: string; routesSource: string };
  services: { name: string; instances: InstanceView[] }[];
  /** What the dynamic service's instances say in their NATS metadata (`database`). */
  database: { kind: string; detail: string };
  routes: { name: string; service: string; match: string }[];
}

export interface SeriesView {
  key: string;
  label: string;
  service: string;
  points: SeriesPoints;
  /** Over the last minute. */
  lastMinute: SeriesSummary;
}

export interface TrafficView {
  /** Epoch seconds of the first and last point (inclusive); the last is the last complete second. */
  from: number;
  to: number;
  /** Every request the gateway proxied or refused on a route. */
  total: SeriesView;
  routes: SeriesView[];
  instances: SeriesView[];
  gauges: { [K in keyof GatewayGauges]: (number | null)[] };
}

export interface FetcherView {
  instances: {
    name: string;
    queued: number | null;
    running: number | null;
    downloadsActive: number | null;
    error: string | null;
  }[];
  queued: number | null;
  running: number | null;
  downloadsActive: number | null;
  downloads: DownloadView[];
}

export interface EventsView {
  source: string;
  detail: string | null;
  items: LabEvent[];
}

export interface DashboardState {
  at: string;
  windowSeconds: number;
  topology: Topology;
  traffic: TrafficView;
  nats: NatsState;
  fetcher: FetcherView;
  tcpEcho: EchoStatsView[];
  events: EventsView;
  loadTest: LoadResultsState;
}

const FETCHER_GAUGES = [
  'fetcher_fetches_queued',
  'fetcher_fetches_running',
  'fetcher_downloads_active',
] as const;
/** Downloads remembered for the panel (running ones and the latest finished). */
const MAX_DOWNLOADS = 20;
const LAST_MINUTE = 60;

function hostOf(inst: Instance): string | null {
  if (inst.http !== undefined) {
    try {
      return new URL(inst.http).hostname.replace(/^\[(.*)\]$/, '$1');
    } catch {
      return null;
    }
  }
  return inst.tcp?.host ?? null;
}

function describeMatch(route: Route): string {
  const spec = route.spec;
  if (spec.prefix !== undefined) return `prefix ${spec.prefix}`;
  if (spec.suffix !== undefined) return `suffix ${spec.suffix}`;
  if (spec.glob !== undefined) return `glob ${spec.glob}`;
  return `path ${spec.path ?? '?'}`;
}

function sseFrame(event: string, data: unknown, id?: number): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function createDashboard(deps: DashboardDeps): Dashboard {
  const { settings, upstreams } = deps;
  const log = deps.logger.child({ component: 'dashboard' });
  const window = new TrafficWindow(settings.windowSeconds);
  const gaugeRings: { [K in keyof GatewayGauges]: GaugeRing } = {
    httpConnections: new GaugeRing(settings.windowSeconds),
    inFlight: new GaugeRing(settings.windowSeconds),
    tcpConnections: new GaugeRing(settings.windowSeconds),
    websockets: new GaugeRing(settings.windowSeconds),
  };
  const assets: DashboardAssets = loadDashboardAssets();
  const clients = new Set<ServerResponse>();
  const events: LabEvent[] = [];
  const downloads = new Map<string, DownloadView>();
  const echoStats = new Map<string, EchoStatsView>();
  const started = new Map<string, string>();
  let nc: NatsConnection | undefined;
  let tail: EventsTail | undefined;
  let nats: NatsState = {
    ok: false,
    url: settings.natsMonitorUrl ?? null,
    at: new Date().toISOString(),
    error:
      settings.natsMonitorUrl === undefined
        ? 'unknown: NATS_MONITOR_URL is not set'
        : 'not read yet',
  };
  type ScrapedGauges = { values: Record<string, number>; error: string | null };
  let fetcherGauges = new Map<string, ScrapedGauges>();
  let loadTest: LoadResultsState = { ok: true, dir: settings.resultsDir, run: null, runs: 0 };
  let lastPoll = 0;
  let polling: Promise<void> | undefined;
  let lastTickSecond = Math.floor(Date.now() / 1000) - 1;
  const lastSent = new Map<string, string>();
  let closed = false;

  // --- traffic -------------------------------------------------------------------------------

  const routeSeries = (route: Route): TrafficSeries =>
    (route.trafficSlot ??= window.series(
      'route',
      route.name,
      route.name,
      route.service,
    )) as TrafficSeries;

  const instanceSeries = (inst: Instance): TrafficSeries =>
    (inst.trafficSlot ??= window.series(
      'instance',
      inst.key,
      inst.name,
      inst.service,
    )) as TrafficSeries;

  const totalSeries = window.series('total', 'all', 'all routes', '*');

  const record = (route: Route, inst: Instance | undefined, status: number, ms: number): void => {
    const now = Date.now();
    window.record(totalSeries, now, status, ms);
    window.record(routeSeries(route), now, status, ms);
    if (inst !== undefined) window.record(instanceSeries(inst), now, status, ms);
  };

  /** Instance series whose instance left and that hold nothing in the window any more. */
  const prune = (toSecond: number): void => {
    const live = new Set(upstreams.list().map((i) => i.key));
    for (const s of window.list('instance')) {
      if (!live.has(s.key) && !window.hasData(s, toSecond - window.length + 1, toSecond)) {
        window.drop(s);
      }
    }
    const routeNames = new Set(deps.routes.current.routes.map((r) => r.name));
    for (const s of window.list('route')) {
      if (!routeNames.has(s.key) && !window.hasData(s, toSecond - window.length + 1, toSecond)) {
        window.drop(s);
      }
    }
  };

  const trafficView = (from: number, to: number): TrafficView => {
    const instancesByKey = new Map(upstreams.list().map((i) => [i.key, i]));
    const view = (s: TrafficSeries): SeriesView => {
      if (s.kind === 'instance') s.label = instancesByKey.get(s.key)?.name ?? s.label;
      return {
        key: s.key,
        label: s.label,
        service: s.service,
        points: window.points(s, from, to),
        lastMinute: window.summary(s, to - LAST_MINUTE + 1, to),
      };
    };
    // Every route of the table has a line, with or without traffic.
    for (const r of deps.routes.current.routes) routeSeries(r);
    return {
      from,
      to,
      total: view(totalSeries),
      routes: window.list('route').map(view),
      instances: window
        .list('instance')
        .map(view)
        .sort((a, b) => a.service.localeCompare(b.service) || a.label.localeCompare(b.label)),
      gauges: {
        httpConnections: gaugeRings.httpConnections.points(from, to),
        inFlight: gaugeRings.inFlight.points(from, to),
        tcpConnections: gaugeRings.tcpConnections.points(from, to),
        websockets: gaugeRings.websockets.points(from, to),
      },
    };
  };

  // --- topology ------------------------------------------------------------------------------

  const topology = (): Topology => {
    const byService = new Map<string, InstanceView[]>();
    for (const name of SERVICE_NAMES) if (name !== 'gateway') byService.set(name, []);
    for (const inst of upstreams.list()) {
      const nats = inst.id === undefined ? undefined : started.get(inst.id);
      const list = byService.get(inst.service) ?? [];
      list.push({
        key: inst.key,
        name: inst.name,
        id: inst.id ?? null,
        version: inst.version ?? null,
        host: hostOf(inst),
        http: inst.http ?? null,
        tcp: inst.tcp === undefined ? null : `${inst.tcp.host}:${inst.tcp.port}`,
        state: inst.state,
        sources: [...inst.sources],
        since: nats ?? new Date(inst.addedAt).toISOString(),
        sinceSource: nats === undefined ? 'gateway' : 'nats',
        outstanding: inst.outstanding,
        requests: inst.requests,
        lastProbe: inst.lastProbe ?? null,
        metadata: { ...inst.metadata },
      });
      byService.set(inst.service, list);
    }
    const kinds = new Set(
      (byService.get('dynamic') ?? [])
        .map((i) => i.metadata.database)
        .filter((k) => k !== undefined),
    );
    const database =
      kinds.size === 0
        ? {
            kind: 'unknown',
            detail:
              (byService.get('dynamic') ?? []).length === 0
                ? 'no dynamic instance is running'
                : 'the dynamic service does not announce its database (NATS metadata "database")',
          }
        : {
            kind: [...kinds].sort().join(', '),
            detail: "from the dynamic instances' NATS metadata",
          };
    return {
      gateway: { ...deps.self(), routesSource: deps.routes.current.source },
      services: [...byService].map(([name, instances]) => ({
        name,
        instances: instances.sort((a, b) => a.name.localeCompare(b.name)),
      })),
      database,
      routes: deps.routes.current.routes.map((r) => ({
        name: r.name,
        service: r.service,
        match: describeMatch(r),
      })),
    };
  };

  const fetcherView = (): FetcherView => {
    const instances = upstreams.list('fetcher').map((inst) => {
      const g = fetcherGauges.get(inst.key);
      const v = (name: string): number | null => g?.values[name] ?? null;
      return {
        name: inst.name,
        queued: v('fetcher_fetches_queued'),
        running: v('fetcher_fetches_running'),
        downloadsActive: v('fetcher_downloads_active'),
        error: g === undefined ? 'not read yet' : g.error,
      };
    });
    const total = (pick: (i: (typeof instances)[number]) => number | null): number | null => {
      const known = instances.map(pick).filter((n): n is number => n !== null);
      return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
    };
    return {
      instances,
      queued: total((i) => i.queued),
      running: total((i) => i.running),
      downloadsActive: total((i) => i.downloadsActive),
      downloads: [...downloads.values()].reverse(),
    };
  };

  const eventsView = (): EventsView => ({
    source: tail?.source() ?? 'NATS not connected',
    detail: tail?.detail() ?? (nc === undefined ? 'the gateway runs without NATS_URL' : null),
    items: events.slice(),
  });

  // --- polling -------------------------------------------------------------------------------

  const pollOnce = async (): Promise<void> => {
    const opts = { timeoutMs: settings.pollTimeoutMs, maxBytes: settings.pollMaxBytes };
    const fetchers = upstreams.list('fetcher').filter((i) => i.http !== undefined);
    const [natsState, gauges, results] = await Promise.all([
      readNatsState(settings.natsMonitorUrl, opts),
      Promise.all(
        fetchers.map(async (inst): Promise<[string, ScrapedGauges]> => {
          try {
            const values = await scrapeGauges(`${inst.http}/metrics`, FETCHER_GAUGES, opts);
            return [inst.key, { values, error: null }];
          } catch (err) {
            return [inst.key, { values: {}, error: (err as Error).message }];
          }
        }),
      ),
      readLatestRun(settings.resultsDir).catch((err: unknown): LoadResultsState => ({
        ok: false,
        dir: settings.resultsDir,
        error: (err as Error).message,
      })),
      readStarted(),
    ]);
    nats = natsState;
    fetcherGauges = new Map(gauges);
    loadTest = results;
    lastPoll = Date.now();
  };

  /** `$SRV.STATS` gives each instance's start time (micro discovery, like the sweeps). */
  const readStarted = async (): Promise<void> => {
    if (nc === undefined || nc.isClosed()) return;
    try {
      const client = new Svcm(nc).client({
        strategy: 'stall',
        maxWait: settings.pollTimeoutMs,
        stall: 200,
      });
      for await (const s of await client.stats()) started.set(s.id, s.started);
    } catch (err) {
      log.debug({ err }, '$SRV.STATS failed');
    }
  };

  const poll = (): Promise<void> =>
    (polling ??= pollOnce()
      .catch((err: unknown) => log.warn({ err }, 'dashboard poll failed'))
      .finally(() => (polling = undefined)));

  // --- streaming -----------------------------------------------------------------------------

  const broadcast = (frame: string): void => {
    for (const res of clients) {
      if (res.writableLength > settings.clientBufferBytes) {
        log.info({ buffered: res.writableLength }, 'dropping a dashboard that does not read');
        clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(frame);
    }
  };

  const sendIfChanged = (name: string, value: unknown): void => {
    const json = JSON.stringify(value);
    if (lastSent.get(name) === json) return;
    lastSent.set(name, json);
    broadcast(`event: ${name}\ndata: ${json}\n\n`);
  };

  const onNatsMessage = (subject: string, data: unknown, seq: number | null, at: string): void => {
    const c = classifyEvent(subject, data, seq, at);
    let event: LabEvent | undefined;
    if (c.type === 'tail') event = c.event;
    else if (c.type === 'echo-stats') echoStats.set(c.stats.instance, c.stats);
    else {
      downloads.delete(c.download.id);
      downloads.set(c.download.id, c.download);
      while (downloads.size > MAX_DOWNLOADS) downloads.delete(downloads.keys().next().value!);
      event = c.event;
    }
    if (event === undefined) return;
    events.push(event);
    if (events.length > settings.maxEvents) events.splice(0, events.length - settings.maxEvents);
    if (clients.size > 0) broadcast(sseFrame('event', event));
  };

  const tick = (): void => {
    const now = Date.now();
    const g = deps.gauges();
    gaugeRings.httpConnections.set(now, g.httpConnections);
    gaugeRings.inFlight.set(now, g.inFlight);
    gaugeRings.tcpConnections.set(now, g.tcpConnections);
    gaugeRings.websockets.set(now, g.websockets);
    const complete = Math.floor(now / 1000) - 1;
    if (complete <= lastTickSecond) return;
    const from = Math.max(lastTickSecond + 1, complete - window.length + 1);
    lastTickSecond = complete;
    if (complete % 30 === 0) prune(complete);
    if (clients.size === 0) return;
    broadcast(sseFrame('tick', trafficView(from, complete)));
    sendIfChanged('topology', topology());
    sendIfChanged('fetcher', fetcherView());
    sendIfChanged('tcp-echo', [...echoStats.values()]);
    sendIfChanged('events-source', { source: eventsView().source, detail: eventsView().detail });
    if (now - lastPoll >= settings.pollIntervalMs) {
      void poll().then(() => {
        sendIfChanged('nats', nats);
        sendIfChanged('load-test', loadTest);
        sendIfChanged('fetcher', fetcherView());
        sendIfChanged('topology', topology());
      });
    }
  };
  // Ticks twice a second so that each second is sent soon after it completes.
  const timer = settings.enabled ? setInterval(tick, 500) : undefined;
  timer?.unref();

  const state = async (): Promise<DashboardState> => {
    if (Date.now() - lastPoll >= settings.pollIntervalMs) await poll();
    // Up to the last second the ticks have sent: a stream's first tick then follows on exactly.
    const to = lastTickSecond;
    return {
      at: new Date().toISOString(),
      windowSeconds: window.length,
      topology: topology(),
      traffic: trafficView(to - window.length + 1, to),
      nats,
      fetcher: fetcherView(),
      tcpEcho: [...echoStats.values()],
      events: eventsView(),
      loadTest,
    };
  };

  const openStream = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (clients.size >= settings.maxClients) {
      res.setHeader('retry-after', '5');
      sendProblem(
        res,
        gatewayError(
          'GATEWAY_DASHBOARD_BUSY',
          `${clients.size} dashboards are open, the most DASHBOARD_MAX_CLIENTS allows.`,
        ),
      );
      return;
    }
    clients.add(res);
    exemptFromIdleSweep(req.socket);
    res.once('close', () => clients.delete(res));
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    // The page reconnects after 2 s if the stream breaks; the snapshot follows at once.
    res.write('retry: 2000\n\n');
    const snapshot = await state();
    if (res.destroyed || closed) return;
    for (const [name, value] of [
      ['topology', snapshot.topology],
      ['fetcher', snapshot.fetcher],
      ['nats', snapshot.nats],
      ['load-test', snapshot.loadTest],
    ] as const) {
      // New clients get everything; the others only hear about changes.
      lastSent.set(name, JSON.stringify(value));
    }
    res.write(sseFrame('state', snapshot));
  };

  const sendJson = (res: ServerResponse, value: unknown, head: boolean): void => {
    const body = JSON.stringify(value);
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(head ? undefined : body);
  };

  const notFound = (res: ServerResponse, path: string): void =>
    sendProblem(res, netlabError('NOT_FOUND', `No dashboard resource at ${path}.`));

  const handle = (req: IncomingMessage, res: ServerResponse, path: string): void => {
    if (!settings.enabled) {
      sendProblem(res, netlabError('NOT_FOUND', 'The dashboard is off (DASHBOARD=false).'));
      return;
    }
    const head = req.method === 'HEAD';
    const rest = path.slice('/-/dashboard'.length);
    if (rest === '' || rest === '/' || rest === '/index.html') {
      const page = assets.get('index.html');
      if (page === undefined) {
        sendProblem(
          res,
          netlabError('NOT_FOUND', `The dashboard page is missing (${assets.missing.join(', ')}).`),
        );
      } else sendAsset(req, res, page);
      return;
    }
    if (rest === '/state.json') {
      void state().then(
        (s) => sendJson(res, s, head),
        (err: unknown) => sendProblem(res, err),
      );
      return;
    }
    if (rest === '/events') {
      void openStream(req, res).catch((err: unknown) => {
        log.warn({ err }, 'dashboard stream failed');
        res.destroy();
      });
      return;
    }
    if (rest.startsWith('/assets/')) {
      const asset = assets.get(rest.slice('/assets/'.length));
      if (asset === undefined) notFound(res, path);
      else sendAsset(req, res, asset);
      return;
    }
    const m = /^\/results\/([^/]+)\/([^/]+)$/.exec(rest);
    if (m !== null) {
      let run: string;
      let file: string;
      try {
        run = decodeURIComponent(m[1]!);
        file = decodeURIComponent(m[2]!);
      } catch {
        notFound(res, path);
        return;
      }
      void resolveResultFile(settings.resultsDir, run, file).then((resolved) => {
        if (resolved === undefined) notFound(res, path);
        else sendResultFile(res, resolved, head);
      });
      return;
    }
    notFound(res, path);
  };

  return {
    record,
    handle,
    state,
    clients: () => clients.size,
    attachNats(conn) {
      if (!settings.enabled || nc !== undefined) return;
      nc = conn;
      tail = startEventsTail({
        nc: conn,
        logger: deps.logger,
        backlog: settings.maxEvents * 4,
        onMessage: onNatsMessage,
      });
    },
    async close() {
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      for (const res of clients) res.end();
      clients.clear();
      await tail?.close();
      await polling;
    },
  };
}
