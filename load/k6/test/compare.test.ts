import {
  compareSummaries,
  comparisonMarkdown,
  DEFAULT_REGRESSION_THRESHOLD,
} from '../runner/compare.ts';
import { summaryWith, trend } from './fixtures.ts';

const run = (rps: number, p95: number, failed: number) =>
  summaryWith({
    http_reqs: { type: 'counter', values: { count: rps * 60, rate: rps } },
    http_req_duration: trend(p95),
    http_req_failed: { type: 'rate', values: { rate: failed } },
  });

const row = (rows: ReturnType<typeof compareSummaries>, label: string) =>
  rows.find((r) => r.figure.label === label)!;

describe('compareSummaries', () => {
  it('defaults to a 10% threshold', () => {
    expect(DEFAULT_REGRESSION_THRESHOLD).toBe(0.1);
  });

  it('flags a p95 more than 10% higher and a throughput more than 10% lower', () => {
    const rows = compareSummaries(run(1000, 20, 0), run(880, 23, 0));
    expect(row(rows, 'p95 ms')).toMatchObject({ regression: true });
    expect(row(rows, 'p95 ms').change).toBeCloseTo(0.15);
    expect(row(rows, 'requests/s')).toMatchObject({ regression: true });
  });

  it('does not flag changes within the threshold, nor improvements', () => {
    const rows = compareSummaries(run(1000, 20, 0), run(950, 21.5, 0));
    expect(rows.some((r) => r.regression)).toBe(false);
    const better = compareSummaries(run(1000, 20, 0), run(2000, 5, 0));
    expect(better.some((r) => r.regression)).toBe(false);
  });

  it('compares error rates in points: 0% → 0.5% passes, 0% → 1.5% is a regression', () => {
    expect(
      row(compareSummaries(run(1000, 20, 0), run(1000, 20, 0.005)), 'failed requests').regression,
    ).toBe(false);
    expect(
      row(compareSummaries(run(1000, 20, 0), run(1000, 20, 0.015)), 'failed requests').regression,
    ).toBe(true);
  });

  it('takes the threshold from the caller', () => {
    const rows = compareSummaries(run(1000, 20, 0), run(1000, 23, 0), 0.2);
    expect(row(rows, 'p95 ms').regression).toBe(false);
  });

  it('skips figures that one of the runs lacks, such as TCP in an HTTP-only run', () => {
    const rows = compareSummaries(run(1000, 20, 0), run(1000, 20, 0));
    expect(rows.map((r) => r.figure.label)).not.toContain('tcp round trip p95 ms');
  });

  it('writes a table with a verdict per figure and a closing line', () => {
    const md = comparisonMarkdown(
      compareSummaries(run(1000, 20, 0), run(880, 20, 0)),
      { a: 'A', b: 'B' },
      0.1,
    );
    expect(md).toMatch(/\| requests\/s \| 1000 \| 880 \| -12\.0% \| \*\*REGRESSION\*\* \|/);
    expect(md).toMatch(/\| failed requests \| 0\.00% \| 0\.00% \| \+0\.00 pt \| ok \|/);
    expect(md).toMatch(/1 regression\(s\) beyond 10%/);
  });
});
