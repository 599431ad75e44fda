import type { K6Summary, LevelPlan, MetricSummary } from '../runner/summary.ts';

const trend = (p95: number, extra: Record<string, number> = {}): MetricSummary => ({
  type: 'trend',
  values: { med: p95 / 2, 'p(95)': p95, 'p(99)': p95 * 1.5, max: p95 * 2, ...extra },
});

/** One level as k6 would summarise it: its requests, iterations, failures and p95. */
export interface LevelFigures {
  requests: number;
  iterations?: number;
  failedRate?: number;
  p95: number;
}

export function levelSummary(plan: LevelPlan, figures: LevelFigures[]): K6Summary {
  const metrics: Record<string, MetricSummary> = {};
  figures.forEach((f, i) => {
    metrics[`http_reqs{level:${i}}`] = { type: 'counter', values: { count: f.requests, rate: 0 } };
    metrics[`iterations{level:${i}}`] = {
      type: 'counter',
      values: { count: f.iterations ?? f.requests, rate: 0 },
    };
    const failed = f.failedRate ?? 0;
    metrics[`http_req_failed{level:${i}}`] = {
      type: 'rate',
      values: {
        rate: failed,
        passes: Math.round(failed * f.requests),
        fails: f.requests - Math.round(failed * f.requests),
      },
    };
    metrics[`http_req_duration{level:${i}}`] = trend(f.p95);
  });
  return { metrics, netlab: { scenario: 'mixed', levels: plan } };
}

export function plan(unit: LevelPlan['unit'], loads: number[], holdS = 10): LevelPlan {
  return {
    unit,
    rampS: 2,
    totalS: loads.length * (holdS + 2),
    levels: loads.map((load, index) => ({ index, load, startS: 2 + index * (holdS + 2), holdS })),
  };
}

export const summaryWith = (metrics: Record<string, MetricSummary>): K6Summary => ({ metrics });
export { trend };
