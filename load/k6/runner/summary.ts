/**
 * The summary.json that the scenarios' handleSummary writes (lib/summary.ts): k6's summary data
 * plus `netlab`, what the runner needs to read it. Sub-metrics are keys like
 * `http_req_duration{level:2}`.
 */

export interface MetricSummary {
  type: 'counter' | 'gauge' | 'rate' | 'trend';
  contains?: string;
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

export interface LevelPlan {
  unit: 'vus' | 'iterations/s';
  rampS: number;
  levels: { index: number; load: number; startS: number; holdS: number }[];
  totalS: number;
}

export interface Fault {
  name: string;
  atS: number;
}

export interface K6Summary {
  metrics: Record<string, MetricSummary>;
  state?: { testRunDurationMs?: number };
  netlab?: {
    scenario: string;
    levels?: LevelPlan;
    faults?: Fault[];
    /** blocking-vs-async: how long each `kind` ran alone, for its request rate. */
    kindSeconds?: Record<string, number>;
    notes?: string[];
  };
}

/** A value of a metric (or sub-metric), or undefined when k6 did not record it. */
export function value(s: K6Summary, metric: string, stat: string): number | undefined {
  const v = s.metrics[metric]?.values[stat];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Every tag value seen in sub-metrics for `tag`, in first-seen order. */
export function tagValues(s: K6Summary, tag: string): string[] {
  const seen = new Set<string>();
  const re = new RegExp(`\\{${tag}:([^}]*)\\}$`);
  for (const name of Object.keys(s.metrics)) {
    const m = re.exec(name);
    if (m !== null) seen.add(m[1]!);
  }
  return [...seen];
}

/** Thresholds that failed, as `metric: expression`, ignoring the always-true level/fault ones. */
export function failedThresholds(s: K6Summary): string[] {
  const failed: string[] = [];
  for (const [name, m] of Object.entries(s.metrics)) {
    for (const [expr, t] of Object.entries(m.thresholds ?? {})) {
      if (!t.ok) failed.push(`${name}: ${expr}`);
    }
  }
  return failed;
}

/** Thresholds that were set, excluding the always-true ones that only expose sub-metrics. */
export function thresholdCount(s: K6Summary): number {
  let n = 0;
  for (const m of Object.values(s.metrics)) {
    for (const expr of Object.keys(m.thresholds ?? {})) if (!/>=0$/.test(expr)) n++;
  }
  return n;
}

export function durationS(s: K6Summary): number | undefined {
  const ms = s.state?.testRunDurationMs;
  return typeof ms === 'number' && ms > 0 ? ms / 1000 : undefined;
}
