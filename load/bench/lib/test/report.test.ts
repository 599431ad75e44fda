import type { Measurement } from '../matrix.ts';
import { markdownTable, median, summarize } from '../report.ts';

const m = (rep: number, system: string, rps: number): Measurement => ({
  rep,
  test: '2 KiB',
  system,
  metrics: { rps, p99: rep },
  at: '',
});

describe('summarize', () => {
  const rows = summarize(
    [
      m(1, 'nginx', 100),
      m(2, 'nginx', 120),
      m(3, 'nginx', 110),
      m(1, 'ours', 50),
      m(2, 'ours', 66),
      m(3, 'ours', 55),
    ],
    { primary: 'rps', reference: 'nginx' },
  );

  it('takes the median of every metric over the repetitions', () => {
    expect(rows.find((r) => r.system === 'nginx')?.medians).toEqual({ rps: 110, p99: 2 });
  });

  it('states the spread of the primary metric as (max − min) / median', () => {
    expect(rows.find((r) => r.system === 'ours')?.spread).toBeCloseTo(16 / 55);
  });

  it('gives each system its ratio to the reference for the same test', () => {
    expect(rows.find((r) => r.system === 'ours')?.ratio).toBeCloseTo(0.5);
    expect(rows.find((r) => r.system === 'nginx')?.ratio).toBe(1);
  });

  it('prints a markdown row per system with the ratio', () => {
    const table = markdownTable(rows, [{ metric: 'rps', heading: 'req/s' }], 'nginx');
    expect(table).toContain('| 2 KiB | ours | 55 | 29.1% | 0.50× |');
  });
});

describe('median', () => {
  it('averages the middle pair of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
