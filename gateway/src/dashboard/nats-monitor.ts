import { fetchBounded, type BoundedFetchOptions } from './bounded-fetch';

/**
 * nats-server's own state, from its monitoring endpoint (`-m`, NATS_MONITOR_URL): `/varz` for the
 * server and `/connz` for its clients (every lab part is one, named after its instance).
 */
export interface NatsClientView {
  name: string;
  address: string;
  lang: string | null;
  version: string | null;
  uptime: string | null;
  rtt: string | null;
  subscriptions: number;
  inMsgs: number;
  outMsgs: number;
  pendingBytes: number;
}

export type NatsState =
  | {
      ok: true;
      url: string;
      at: string;
      serverName: string | null;
      version: string | null;
      uptime: string | null;
      connections: number;
      totalConnections: number;
      subscriptions: number;
      slowConsumers: number;
      inMsgs: number;
      outMsgs: number;
      inBytes: number;
      outBytes: number;
      memBytes: number;
      cpuPercent: number;
      jetstream: {
        memoryBytes: number;
        storageBytes: number;
        apiTotal: number;
        apiErrors: number;
      } | null;
      clients: NatsClientView[];
    }
  | { ok: false; url: string | null; at: string; error: string };

/** Clients listed at most (`/connz?limit=`): a lab has tens. */
export const CONNZ_LIMIT = 256;

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const strOrNull = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

export function parseNatsState(url: string, varzText: string, connzText: string): NatsState {
  const varz = obj(JSON.parse(varzText));
  const connz = obj(JSON.parse(connzText));
  const js = obj(varz.jetstream);
  const jsStats = obj(js.stats);
  const api = obj(jsStats.api);
  const list = Array.isArray(connz.connections) ? connz.connections : [];
  const clients = list.slice(0, CONNZ_LIMIT).map((raw): NatsClientView => {
    const c = obj(raw);
    return {
      name: strOrNull(c.name) ?? `cid ${num(c.cid)}`,
      address: `${strOrNull(c.ip) ?? '?'}:${num(c.port)}`,
      lang: strOrNull(c.lang),
      version: strOrNull(c.version),
      uptime: strOrNull(c.uptime),
      rtt: strOrNull(c.rtt),
      subscriptions: num(c.subscriptions),
      inMsgs: num(c.in_msgs),
      outMsgs: num(c.out_msgs),
      pendingBytes: num(c.pending_bytes),
    };
  });
  clients.sort((a, b) => a.name.localeCompare(b.name));
  return {
    ok: true,
    url,
    at: new Date().toISOString(),
    serverName: strOrNull(varz.server_name),
    version: strOrNull(varz.version),
    uptime: strOrNull(varz.uptime),
    connections: num(varz.connections),
    totalConnections: num(varz.total_connections),
    subscriptions: num(varz.subscriptions),
    slowConsumers: num(varz.slow_consumers),
    inMsgs: num(varz.in_msgs),
    outMsgs: num(varz.out_msgs),
    inBytes: num(varz.in_bytes),
    outBytes: num(varz.out_bytes),
    memBytes: num(varz.mem),
    cpuPercent: num(varz.cpu),
    jetstream:
      Object.keys(jsStats).length === 0
        ? null
        : {
            memoryBytes: num(jsStats.memory),
            storageBytes: num(jsStats.storage),
            apiTotal: num(api.total),
            apiErrors: num(api.errors),
          },
    clients,
  };
}

/** Reads `/varz` and `/connz`; never rejects: a failure is a state the page shows. */
export async function readNatsState(
  monitorUrl: string | undefined,
  opts: BoundedFetchOptions,
): Promise<NatsState> {
  const at = new Date().toISOString();
  if (monitorUrl === undefined) {
    return { ok: false, url: null, at, error: 'unknown: NATS_MONITOR_URL is not set' };
  }
  const base = monitorUrl.replace(/\/+$/, '');
  try {
    const [varz, connz] = await Promise.all([
      fetchBounded(`${base}/varz`, opts),
      fetchBounded(`${base}/connz?limit=${CONNZ_LIMIT}`, opts),
    ]);
    return parseNatsState(base, varz, connz);
  } catch (err) {
    return { ok: false, url: base, at, error: `unreachable: ${(err as Error).message}` };
  }
}
