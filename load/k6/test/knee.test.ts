import { DEFAULT_KNEE_RULES, findKnee, levelRows } from '../runner/knee.ts';
import { levelSummary, plan } from './fixtures.ts';

const kneeOf = (p: ReturnType<typeof plan>, figures: Parameters<typeof levelSummary>[1]) =>
  findKnee(levelRows(levelSummary(p, figures), p), p.unit);

describe('findKnee, closed model (VUs)', () => {
  const p = plan('vus', [4, 8, 12, 16]);

  it('puts the knee at the last level whose added VUs still bought throughput', () => {
    // 4 → 8 VUs doubles throughput; 8 → 12 adds 2% where 50% was due: saturated.
    const knee = kneeOf(p, [
      { requests: 5000, p95: 4 },
      { requests: 10000, p95: 5 },
      { requests: 10200, p95: 7 },
      { requests: 10100, p95: 9 },
    ]);
    expect(knee.knee).toBe(1);
    expect(knee.brokeAt).toBe(2);
    expect(knee.rows[2]!.broken.join()).toMatch(/proportional gain/);
    expect(knee.text).toMatch(/^knee at 8 VUs: 1000 req\/s/);
  });

  it('flags a level whose p95 passes 3× the first level and the floor', () => {
    const knee = kneeOf(p, [
      { requests: 4000, p95: 10 },
      { requests: 8000, p95: 20 },
      { requests: 12000, p95: 31 },
      { requests: 16000, p95: 40 },
    ]);
    expect(knee.brokeAt).toBe(2);
    expect(knee.rows[2]!.broken.join()).toMatch(/p95 31\.0 ms > 3× the first level's 10\.0 ms/);
  });

  it('ignores a latency rise that stays under the floor (0.5 ms → 2 ms is noise)', () => {
    const knee = kneeOf(p, [
      { requests: 4000, p95: 0.5 },
      { requests: 8000, p95: 2 },
      { requests: 12000, p95: 4 },
      { requests: 16000, p95: 9 },
    ]);
    expect(knee.brokeAt).toBeUndefined();
    expect(knee.knee).toBe(3);
    expect(knee.text).toMatch(/^no knee up to 16 VUs .* raise VUS/);
  });

  it('breaks at more than 1% failed requests', () => {
    const knee = kneeOf(p, [
      { requests: 4000, p95: 5 },
      { requests: 8000, p95: 5, failedRate: 0.011 },
      { requests: 12000, p95: 5 },
      { requests: 16000, p95: 5 },
    ]);
    expect(knee.brokeAt).toBe(1);
    expect(knee.rows[1]!.broken[0]).toBe('errors 1.1% > 1.0%');
  });

  it('says the knee is below the first level when that one already broke', () => {
    const knee = kneeOf(p, [
      { requests: 4000, p95: 5, failedRate: 0.5 },
      { requests: 8000, p95: 5 },
    ]);
    expect(knee.knee).toBeUndefined();
    expect(knee.text).toMatch(/^knee below 4 VUs/);
  });

  it('counts a level without a completed request as broken', () => {
    const knee = kneeOf(p, [
      { requests: 4000, p95: 5 },
      { requests: 0, p95: 5 },
    ]);
    expect(knee.brokeAt).toBe(1);
    expect(knee.rows[1]!.broken).toEqual(['no requests completed']);
  });
});

describe('findKnee, open model (arrival rate)', () => {
  const p = plan('iterations/s', [50, 100, 200, 400], 10);

  it('breaks where fewer than 90% of the offered iterations ran', () => {
    const knee = kneeOf(p, [
      { requests: 1000, iterations: 500, p95: 5 },
      { requests: 2000, iterations: 1000, p95: 5 },
      { requests: 4000, iterations: 1990, p95: 6 },
      // 400/s offered for 10 s, 3000 ran: 75%.
      { requests: 6000, iterations: 3000, p95: 8 },
    ]);
    expect(knee.brokeAt).toBe(3);
    expect(knee.rows[3]!.broken.join()).toMatch(
      /ran 300\.0 of 400 iterations\/s offered \(75\.0% < 90\.0%\)/,
    );
    expect(knee.text).toMatch(/^knee at 200 iterations\/s/);
  });

  it('does not apply the closed model scaling rule to arrival rates', () => {
    const knee = kneeOf(plan('iterations/s', [50, 100]), [
      { requests: 500, iterations: 500, p95: 5 },
      { requests: 1000, iterations: 1000, p95: 5 },
    ]);
    expect(knee.brokeAt).toBeUndefined();
  });

  it('uses rules given by the caller', () => {
    const two = plan('iterations/s', [50, 100]);
    const rows = levelRows(
      levelSummary(two, [
        { requests: 500, iterations: 500, p95: 5 },
        { requests: 1000, iterations: 1000, p95: 5, failedRate: 0.02 },
      ]),
      two,
    );
    expect(
      findKnee(rows, two.unit, { ...DEFAULT_KNEE_RULES, maxErrorRate: 0.05 }).brokeAt,
    ).toBeUndefined();
    expect(findKnee(rows, two.unit).brokeAt).toBe(1);
  });
});
