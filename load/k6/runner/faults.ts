import { value, type Fault, type K6Summary } from './summary.ts';

/**
 * The chaos scenario: during a `mixed` run the runner restarts one part at a time through the
 * `netlab` CLI. The schedule leaves the first `baselineFraction` of the run undisturbed, then
 * spaces the faults evenly over the rest, so each fault owns a window (from its start to the next
 * fault's) long enough to see the part come back.
 */
export const CHAOS_PARTS = ['static', 'dynamic', 'fetcher', 'tcp-echo', 'nats'] as const;

/**
 * `CHAOS_PARTS=static,gateway`: which parts to restart, in order. The gateway is left out by
 * default: it is the single entry point, so restarting its only instance fails every request
 * until it is back (measured: about 7 s), which says nothing about the parts behind it.
 */
export function chaosParts(raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') return [...CHAOS_PARTS];
  const parts = raw
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const known = new Set<string>([...CHAOS_PARTS, 'gateway']);
  const unknown = parts.filter((p) => !known.has(p));
  if (unknown.length > 0 || parts.length === 0) {
    throw new Error(
      `CHAOS_PARTS=${raw}: expected a comma-separated list of ${[...known].join(', ')}`,
    );
  }
  return parts;
}

export function faultSchedule(
  durationS: number,
  parts: readonly string[] = CHAOS_PARTS,
  baselineFraction = 0.15,
): Fault[] {
  if (parts.length === 0) return [];
  const start = durationS * baselineFraction;
  const window = (durationS - start) / parts.length;
  return parts.map((name, i) => ({ name, atS: Math.round((start + i * window) * 10) / 10 }));
}

/** What the runner did for a fault: when `netlab restart` started, how long it took, its outcome. */
export interface FaultAction {
  name: string;
  startedS: number;
  tookS: number;
  ok: boolean;
  detail?: string;
}

export interface FaultWindow {
  name: string;
  fromS: number;
  toS: number;
  requests: number;
  failed: number;
  failedRate: number;
  checksFailed: number;
  tcpErrors: number;
  action: FaultAction | undefined;
}

/**
 * Failed requests per fault window, from the `fault`-tagged sub-metrics (lib/faults.ts tags every
 * iteration by the window it starts in). `baseline` is the window before the first fault.
 */
export function faultWindows(
  summary: K6Summary,
  faults: readonly Fault[],
  totalS: number,
  actions: readonly FaultAction[] = [],
): FaultWindow[] {
  const windows = [{ name: 'baseline', atS: 0 }, ...faults];
  return windows.map((w, i) => {
    const tag = `{fault:${w.name}}`;
    const requests = value(summary, `http_reqs${tag}`, 'count') ?? 0;
    const failedRate = value(summary, `http_req_failed${tag}`, 'rate') ?? 0;
    const checkPasses = value(summary, `checks${tag}`, 'passes') ?? 0;
    const checkFails = value(summary, `checks${tag}`, 'fails') ?? 0;
    return {
      name: w.name,
      fromS: w.atS,
      toS: windows[i + 1]?.atS ?? totalS,
      requests,
      // A true value of http_req_failed is a failure: its `passes` count the failed requests.
      failed:
        value(summary, `http_req_failed${tag}`, 'passes') ?? Math.round(failedRate * requests),
      failedRate,
      checksFailed: checkPasses + checkFails > 0 ? checkFails : 0,
      tcpErrors: value(summary, `tcp_errors${tag}`, 'count') ?? 0,
      action: actions.find((a) => a.name === w.name),
    };
  });
}
