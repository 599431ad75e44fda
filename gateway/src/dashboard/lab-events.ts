/**
 * What the dashboard makes of a message on `netlab.events.<service>.<kind>`: a line for the event
 * tail, or, for the periodic ones (tcp-echo stats, download progress), only figures to show
 * elsewhere. Pure functions: the NATS side is in events-tail.ts.
 */

/** One entry of the event tail, as the page receives it. */
export interface LabEvent {
  /** Stream sequence; null for an event received without the stream. */
  seq: number | null;
  /** ISO time: the event's own `at`, else when the stream stored it, else when it arrived. */
  at: string;
  service: string;
  kind: string;
  /** The instance that sent it, when the event says. */
  instance: string | null;
  /** One line for people. */
  summary: string;
  level: 'info' | 'warn';
}

/** A download as the fetcher's events describe it (`netlab.events.fetcher.download`). */
export interface DownloadView {
  id: string;
  instance: string | null;
  url: string;
  state: string;
  bytes: number;
  total: number | null;
  rateBps: number;
  at: string;
}

/** tcp-echo's periodic counters (`netlab.events.tcp-echo.stats`), one per instance. */
export interface EchoStatsView {
  instance: string;
  at: string;
  tcpOpen: number | null;
  tcpAccepted: number | null;
  udpDatagrams: number | null;
}

export type ClassifiedEvent =
  | { type: 'tail'; event: LabEvent }
  | { type: 'download'; download: DownloadView; event: LabEvent | undefined }
  | { type: 'echo-stats'; stats: EchoStatsView };

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** Keeps a line readable whatever an event carries. */
function clip(text: string, max = 160): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/**
 * Classifies one event. `subject` is `netlab.events.<service>.<kind>`; `data` its parsed JSON
 * (anything: a malformed event still gets a line). `fallbackAt` is the stream's timestamp or now.
 */
export function classifyEvent(
  subject: string,
  data: unknown,
  seq: number | null,
  fallbackAt: string,
): ClassifiedEvent {
  const parts = subject.split('.');
  const service = parts[2] ?? '?';
  const kind = parts.slice(3).join('.') || '?';
  const d = obj(data);
  const at = str(d.at) ?? fallbackAt;
  const instance = str(d.instance);
  const base = { seq, at, service, kind, instance };
  const who = instance ?? service;

  if (kind === 'up' || kind === 'down') {
    const meta = obj(d.metadata);
    const where = str(meta.http) ?? str(meta.tcp) ?? '';
    const version = str(d.version);
    const text =
      kind === 'up'
        ? `${who}${version === null ? '' : ` ${version}`} is up${where === '' ? '' : ` at ${where}`}`
        : `${who} left`;
    return {
      type: 'tail',
      event: { ...base, summary: clip(text), level: kind === 'up' ? 'info' : 'warn' },
    };
  }

  if (service === 'tcp-echo' && kind === 'stats') {
    const tcp = obj(d.tcp);
    const udp = obj(d.udp);
    return {
      type: 'echo-stats',
      stats: {
        instance: who,
        at,
        tcpOpen: num(tcp.open),
        tcpAccepted: num(tcp.accepted),
        udpDatagrams: num(udp.datagramsIn),
      },
    };
  }

  if (service === 'fetcher' && kind === 'download') {
    const dl = obj(d.download);
    const state = str(dl.state) ?? '?';
    const eventKind = str(d.kind) ?? state;
    const download: DownloadView = {
      id: str(dl.id) ?? '?',
      instance,
      url: clip(str(dl.url) ?? '?', 200),
      state,
      bytes: num(dl.bytes) ?? 0,
      total: num(dl.total),
      rateBps: num(dl.rateBps) ?? 0,
      at,
    };
    // Progress is periodic: it updates the downloads panel, not the tail.
    if (eventKind === 'progress') return { type: 'download', download, event: undefined };
    const size = download.total ?? download.bytes;
    const text =
      eventKind === 'running'
        ? `${who} started downloading ${download.url}`
        : `download ${eventKind}: ${download.url} (${bytesText(size)})`;
    return {
      type: 'download',
      download,
      event: {
        ...base,
        kind: `download.${eventKind}`,
        summary: clip(text),
        level: eventKind === 'failed' ? 'warn' : 'info',
      },
    };
  }

  if (service === 'dynamic' && kind === 'quotes') {
    const changes = Array.isArray(d.changes) ? d.changes.length : 0;
    return {
      type: 'tail',
      event: {
        ...base,
        summary: clip(
          `${who} refreshed quotes: ${changes} price change${changes === 1 ? '' : 's'}`,
        ),
        level: 'info',
      },
    };
  }

  // Anything else (restarts, kinds added later): its own message or its fields.
  const message = str(d.message) ?? str(d.msg) ?? str(d.reason);
  let text = message ?? '';
  if (text === '') {
    const fields = Object.entries(d)
      .filter(([k, v]) => k !== 'at' && k !== 'instance' && typeof v !== 'object')
      .slice(0, 4)
      .map(([k, v]) => `${k}=${String(v)}`);
    text = fields.join(' ');
  }
  return {
    type: 'tail',
    event: {
      ...base,
      summary: clip(`${who} ${kind}${text === '' ? '' : `: ${text}`}`),
      level: /fail|error|crash|restart|down/.test(kind) ? 'warn' : 'info',
    },
  };
}
