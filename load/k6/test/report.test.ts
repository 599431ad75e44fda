import { runReport, type RunContext } from '../runner/report.ts';
import { dashboardPeriodS, parseDurationS, scenarioNamed, SCENARIOS } from '../runner/scenarios.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { levelSummary, plan, trend } from './fixtures.ts';

const ctx: RunContext = {
  scenario: 'mixed',
  dir: '/tmp/run',
  baseUrl: 'http://127.0.0.1:8080',
  tcpAddr: '127.0.0.1:7000',
  k6ExitCode: 0,
  labStarted: true,
  startedAt: '2026-11-24T00:00:00.000Z',
};

describe('runReport', () => {
  const p = plan('vus', [4, 8]);
  const summary = levelSummary(p, [
    { requests: 4000, p95: 5 },
    { requests: 8000, p95: 6 },
  ]);
  summary.metrics['http_reqs'] = { type: 'counter', values: { count: 12000, rate: 500 } };
  summary.metrics['http_req_duration'] = { ...trend(6), thresholds: { 'p(95)<500': { ok: true } } };
  summary.metrics['http_req_failed'] = {
    type: 'rate',
    values: { rate: 0 },
    thresholds: { 'rate<0.01': { ok: true } },
  };
  summary.state = { testRunDurationMs: 24_000 };

  it('passes when k6 exited 0 and every threshold held, and prints the knee', () => {
    const r = runReport(summary, ctx);
    expect(r.passed).toBe(true);
    expect(r.markdown).toMatch(/^# k6 mixed — PASSED/);
    expect(r.markdown).toMatch(/Verdict: every threshold held \(2 thresholds\)/);
    expect(r.markdown).toMatch(/\| HTTP \| 12,000 \| 500 \| 0\.00% \|/);
    expect(r.markdown).toMatch(/\*\*no knee up to 8 VUs/);
    expect(r.knee?.knee).toBe(1);
  });

  it('lists every failed threshold and fails', () => {
    const failing = structuredClone(summary);
    failing.metrics['http_req_duration']!.thresholds = { 'p(95)<5': { ok: false } };
    const r = runReport(failing, { ...ctx, k6ExitCode: 99 });
    expect(r.passed).toBe(false);
    expect(r.markdown).toMatch(/— FAILED/);
    expect(r.markdown).toMatch(/Verdict: thresholds failed/);
    expect(r.markdown).toContain('- ✗ `http_req_duration: p(95)<5`');
  });

  it('explains k6 exit code 107 (the script threw)', () => {
    expect(runReport(summary, { ...ctx, k6ExitCode: 107 }).markdown).toMatch(/the script threw/);
  });

  it('adds a fault table when the run had a fault schedule', () => {
    const chaos = structuredClone(summary);
    chaos.netlab = { scenario: 'chaos', faults: [{ name: 'static', atS: 5 }] };
    chaos.metrics['http_reqs{fault:static}'] = { type: 'counter', values: { count: 300 } };
    chaos.metrics['http_req_failed{fault:static}'] = {
      type: 'rate',
      values: { rate: 0.01, passes: 3, fails: 297 },
    };
    const r = runReport(chaos, {
      ...ctx,
      scenario: 'chaos',
      faultActions: [{ name: 'static', startedS: 5.1, tookS: 1.5, ok: true }],
    });
    expect(r.markdown).toMatch(/## Faults/);
    expect(r.markdown).toMatch(/\| static \| 5\.0 s \| 24\.0 s \| 1\.5 s \| 300 \| 3 \| 1\.00% \|/);
    expect(r.faults?.map((f) => f.name)).toEqual(['baseline', 'static']);
  });
});

describe('scenarios', () => {
  it('has a k6 script for every scenario the runner lists', () => {
    for (const s of SCENARIOS) {
      expect(existsSync(join(process.cwd(), 'load/k6/scenarios', s.script))).toBe(true);
    }
    expect(scenarioNamed('mixed')?.defaultS).toBe(60);
    expect(scenarioNamed('nope')).toBeUndefined();
  });

  it('reads durations the way the k6 side does', () => {
    expect(parseDurationS('90')).toBe(90);
    expect(parseDurationS('2m')).toBe(120);
    expect(parseDurationS('500ms')).toBe(0.5);
    expect(parseDurationS('soon')).toBeUndefined();
    expect(parseDurationS('0s')).toBeUndefined();
  });

  it('charts about 120 points per run, at least one a second', () => {
    expect(dashboardPeriodS(60)).toBe(1);
    expect(dashboardPeriodS(1800)).toBe(15);
  });
});
