import { value, type K6Summary } from './summary.ts';

/**
 * `make load-compare A B`: the same figures from two runs side by side, and a regression flag
 * where B is worse than A by more than the threshold (LOAD_REGRESSION_THRESHOLD, default 10%).
 * Error rates are compared in points, not relative change: 0% → 0.1% is a regression of 0.1
 * points, not of infinity.
 */
export const DEFAULT_REGRESSION_THRESHOLD = 0.1;

export interface Figure {
  label: string;
  metric: string;
  stat: string;
  /** Which direction is better. */
  better: 'lower' | 'higher';
  /** rate: compared as a difference in points; otherwise as a relative change. */
  kind: 'relative' | 'points';
}

export const FIGURES: readonly Figure[] = [
  { label: 'requests/s', metric: 'http_reqs', stat: 'rate', better: 'higher', kind: 'relative' },
  { label: 'p50 ms', metric: 'http_req_duration', stat: 'med', better: 'lower', kind: 'relative' },
  {
    label: 'p95 ms',
    metric: 'http_req_duration',
    stat: 'p(95)',
    better: 'lower',
    kind: 'relative',
  },
  {
    label: 'p99 ms',
    metric: 'http_req_duration',
    stat: 'p(99)',
    better: 'lower',
    kind: 'relative',
  },
  {
    label: 'failed requests',
    metric: 'http_req_failed',
    stat: 'rate',
    better: 'lower',
    kind: 'points',
  },
  { label: 'checks passed', metric: 'checks', stat: 'rate', better: 'higher', kind: 'points' },
  { label: 'iterations/s', metric: 'iterations', stat: 'rate', better: 'higher', kind: 'relative' },
  {
    label: 'tcp round trip p95 ms',
    metric: 'tcp_rtt',
    stat: 'p(95)',
    better: 'lower',
    kind: 'relative',
  },
  { label: 'tcp errors', metric: 'tcp_errors', stat: 'count', better: 'lower', kind: 'points' },
];

export interface ComparisonRow {
  figure: Figure;
  a: number;
  b: number;
  /** Relative change (b − a) / a, or the difference in points for rates and counts. */
  change: number;
  regression: boolean;
}

export function compareSummaries(
  a: K6Summary,
  b: K6Summary,
  threshold = DEFAULT_REGRESSION_THRESHOLD,
): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  for (const figure of FIGURES) {
    const va = value(a, figure.metric, figure.stat);
    const vb = value(b, figure.metric, figure.stat);
    if (va === undefined || vb === undefined) continue;
    let change: number;
    let worse: number;
    if (figure.kind === 'points') {
      change = vb - va;
      worse = figure.better === 'lower' ? change : -change;
      // Rates: a point is 1% (0.01); counts: any increase of errors counts.
      const limit = figure.metric === 'tcp_errors' ? 0 : threshold / 10;
      rows.push({ figure, a: va, b: vb, change, regression: worse > limit });
      continue;
    }
    change = va === 0 ? (vb === 0 ? 0 : Infinity) : (vb - va) / va;
    worse = figure.better === 'lower' ? change : -change;
    rows.push({ figure, a: va, b: vb, change, regression: worse > threshold });
  }
  return rows;
}

const num = (x: number, kind: Figure['kind'], stat: string): string =>
  stat === 'rate' && kind === 'points'
    ? `${(x * 100).toFixed(2)}%`
    : stat === 'count'
      ? String(x)
      : x.toFixed(x >= 100 ? 0 : 2);

export function comparisonMarkdown(
  rows: readonly ComparisonRow[],
  names: { a: string; b: string },
  threshold: number,
): string {
  const lines = [
    `| figure | A | B | change | verdict |`,
    `| --- | --- | --- | --- | --- |`,
    ...rows.map((r) => {
      const change =
        r.figure.kind === 'points'
          ? r.figure.stat === 'rate'
            ? `${r.change >= 0 ? '+' : ''}${(r.change * 100).toFixed(2)} pt`
            : `${r.change >= 0 ? '+' : ''}${r.change}`
          : Number.isFinite(r.change)
            ? `${r.change >= 0 ? '+' : ''}${(r.change * 100).toFixed(1)}%`
            : 'new';
      return `| ${r.figure.label} | ${num(r.a, r.figure.kind, r.figure.stat)} | ${num(r.b, r.figure.kind, r.figure.stat)} | ${change} | ${r.regression ? '**REGRESSION**' : 'ok'} |`;
    }),
  ];
  const regressions = rows.filter((r) => r.regression).length;
  return [
    `A: ${names.a}`,
    `B: ${names.b}`,
    '',
    ...lines,
    '',
    regressions === 0
      ? `No regression beyond ${(threshold * 100).toFixed(0)}% (rates: ${(threshold * 10).toFixed(1)} points).`
      : `${regressions} regression(s) beyond ${(threshold * 100).toFixed(0)}% (rates: ${(threshold * 10).toFixed(1)} points).`,
    '',
  ].join('\n');
}
