import { value, type K6Summary, type LevelPlan } from './summary.ts';

/**
 * Where the knee is: the highest load level the lab still handled well, judged level by level
 * against the first (lightest) one. A level is "broken" when any of these holds (load/README.md):
 *
 * - errors: more than `maxErrorRate` of its requests failed;
 * - latency: its p95 is more than `p95Factor` × the first level's p95, and above `p95FloorMs`
 *   (a rise from 0.5 ms to 2 ms is noise, not a knee);
 * - throughput, open model (arrival rate): fewer than `minDelivered` of the offered iterations
 *   ran (k6 dropped the rest: no VU was free);
 * - throughput, closed model (VUs): the added VUs bought less than `minScaling` of the throughput
 *   they would have bought if throughput grew in proportion (the lab is saturated).
 *
 * The knee is the level before the first broken one.
 */
export interface KneeRules {
  maxErrorRate: number;
  p95Factor: number;
  p95FloorMs: number;
  minDelivered: number;
  minScaling: number;
}

export const DEFAULT_KNEE_RULES: KneeRules = {
  maxErrorRate: 0.01,
  p95Factor: 3,
  p95FloorMs: 10,
  minDelivered: 0.9,
  minScaling: 0.5,
};

export interface LevelRow {
  index: number;
  load: number;
  holdS: number;
  requests: number;
  /** Requests per second during the hold. */
  throughput: number;
  /** Iterations per second during the hold. */
  iterationRate: number;
  errorRate: number;
  p50Ms: number | undefined;
  p95Ms: number | undefined;
  p99Ms: number | undefined;
  /** Why this level counts as broken; empty when it does not. */
  broken: string[];
}

export interface Knee {
  unit: LevelPlan['unit'];
  rows: LevelRow[];
  /** Index into rows of the knee; undefined when even the first level broke. */
  knee: number | undefined;
  /** Index of the first broken level; undefined when none broke. */
  brokeAt: number | undefined;
  text: string;
}

export function levelRows(summary: K6Summary, plan: LevelPlan): LevelRow[] {
  return plan.levels.map((l) => {
    const tag = `{level:${l.index}}`;
    const requests = value(summary, `http_reqs${tag}`, 'count') ?? 0;
    const iterations = value(summary, `iterations${tag}`, 'count') ?? 0;
    return {
      index: l.index,
      load: l.load,
      holdS: l.holdS,
      requests,
      throughput: requests / l.holdS,
      iterationRate: iterations / l.holdS,
      errorRate: value(summary, `http_req_failed${tag}`, 'rate') ?? 0,
      p50Ms: value(summary, `http_req_duration${tag}`, 'med'),
      p95Ms: value(summary, `http_req_duration${tag}`, 'p(95)'),
      p99Ms: value(summary, `http_req_duration${tag}`, 'p(99)'),
      broken: [],
    };
  });
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const unitLabel = (unit: LevelPlan['unit'], load: number): string =>
  unit === 'vus' ? `${load} VUs` : `${load} iterations/s`;

export function findKnee(
  rows: LevelRow[],
  unit: LevelPlan['unit'],
  rules: KneeRules = DEFAULT_KNEE_RULES,
): Knee {
  const judged = rows.map((r) => ({ ...r, broken: [] as string[] }));
  const base = judged[0];
  for (let i = 0; i < judged.length; i++) {
    const r = judged[i]!;
    if (r.requests === 0) {
      r.broken.push('no requests completed');
      continue;
    }
    if (r.errorRate > rules.maxErrorRate) {
      r.broken.push(`errors ${pct(r.errorRate)} > ${pct(rules.maxErrorRate)}`);
    }
    const baseP95 = base?.p95Ms;
    if (
      i > 0 &&
      r.p95Ms !== undefined &&
      baseP95 !== undefined &&
      r.p95Ms > rules.p95Factor * baseP95 &&
      r.p95Ms > rules.p95FloorMs
    ) {
      r.broken.push(
        `p95 ${r.p95Ms.toFixed(1)} ms > ${rules.p95Factor}× the first level's ${baseP95.toFixed(1)} ms`,
      );
    }
    if (unit === 'iterations/s') {
      const delivered = r.iterationRate / r.load;
      if (delivered < rules.minDelivered) {
        r.broken.push(
          `ran ${r.iterationRate.toFixed(1)} of ${r.load} iterations/s offered (${pct(delivered)} < ${pct(rules.minDelivered)})`,
        );
      }
    } else if (i > 0) {
      const prev = judged[i - 1]!;
      const expectedGain = prev.throughput * (r.load / prev.load - 1);
      const gain = r.throughput - prev.throughput;
      if (expectedGain > 0 && gain / expectedGain < rules.minScaling) {
        r.broken.push(
          `throughput ${prev.throughput.toFixed(0)} → ${r.throughput.toFixed(0)} req/s: ${pct(Math.max(0, gain / expectedGain))} of the proportional gain (< ${pct(rules.minScaling)})`,
        );
      }
    }
  }
  const brokeAt = judged.findIndex((r) => r.broken.length > 0);
  if (judged.length === 0) {
    return { unit, rows: judged, knee: undefined, brokeAt: undefined, text: 'no levels were run' };
  }
  if (brokeAt === -1) {
    const top = judged[judged.length - 1]!;
    return {
      unit,
      rows: judged,
      knee: judged.length - 1,
      brokeAt: undefined,
      text: `no knee up to ${unitLabel(unit, top.load)} (${top.throughput.toFixed(0)} req/s, p95 ${fmtMs(top.p95Ms)}): every level held; raise ${unit === 'vus' ? 'VUS' : 'RATE'} to find it`,
    };
  }
  const broke = judged[brokeAt]!;
  if (brokeAt === 0) {
    return {
      unit,
      rows: judged,
      knee: undefined,
      brokeAt,
      text: `knee below ${unitLabel(unit, broke.load)}: the first level already broke (${broke.broken.join('; ')}); start lower`,
    };
  }
  const knee = judged[brokeAt - 1]!;
  return {
    unit,
    rows: judged,
    knee: brokeAt - 1,
    brokeAt,
    text: `knee at ${unitLabel(unit, knee.load)}: ${knee.throughput.toFixed(0)} req/s with p95 ${fmtMs(knee.p95Ms)}; at ${unitLabel(unit, broke.load)} ${broke.broken.join('; ')}`,
  };
}

export const fmtMs = (ms: number | undefined): string =>
  ms === undefined ? '—' : ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`;
