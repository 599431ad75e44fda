// The k6 side's pure helpers, run under jest: k6's own modules exist only inside k6, so the two
// this file's imports touch are stood in for (their functions are not called here).
jest.mock('k6/execution', () => ({ __esModule: true, default: {} }), { virtual: true });
(globalThis as { __ENV?: Record<string, string> }).__ENV = {};

import { parseSeconds } from '../lib/config.ts';
import { faultAt, faultThresholds, parseFaults } from '../lib/faults.ts';
import {
  geometricLoads,
  levelAt,
  levelPlan,
  levelThresholds,
  linearLoads,
  planStages,
} from '../lib/levels.ts';

describe('level plans (k6 side)', () => {
  it('rises in equal steps to the top load, without duplicates for small loads', () => {
    expect(linearLoads(20, 4)).toEqual([5, 10, 15, 20]);
    expect(linearLoads(2, 4)).toEqual([1, 2]);
  });

  it('rises geometrically for arrival rates', () => {
    expect(geometricLoads(50, 800, 5)).toEqual([50, 100, 200, 400, 800]);
    expect(geometricLoads(10, 10, 3)).toEqual([10]);
  });

  it('ramps then holds each level, and tags only the holds', () => {
    const plan = levelPlan('vus', [4, 8], 10, 2);
    expect(plan.totalS).toBe(24);
    expect(planStages(plan)).toEqual([
      { duration: '2s', target: 4 },
      { duration: '10s', target: 4 },
      { duration: '2s', target: 8 },
      { duration: '10s', target: 8 },
    ]);
    expect([0, 1.9, 2, 11.9, 12, 14, 23.9, 24].map((t) => levelAt(plan, t))).toEqual([
      'ramp',
      'ramp',
      '0',
      '0',
      'ramp',
      '1',
      '1',
      'ramp',
    ]);
  });

  it('puts every level sub-metric in the summary with thresholds that always pass', () => {
    const t = levelThresholds(levelPlan('vus', [1], 5, 1));
    expect(t).toEqual({
      'http_reqs{level:0}': ['count>=0'],
      'http_req_duration{level:0}': ['max>=0'],
      'http_req_failed{level:0}': ['rate>=0'],
      'iterations{level:0}': ['count>=0'],
    });
  });
});

describe('fault windows (k6 side)', () => {
  const faults = parseFaults('[{"name":"static","atS":5},{"name":"nats","atS":9}]');

  it('tags the time before the first fault as baseline, then each fault until the next', () => {
    expect([0, 4.9, 5, 8.9, 9, 60].map((t) => faultAt(faults, t))).toEqual([
      'baseline',
      'baseline',
      'static',
      'static',
      'nats',
      'nats',
    ]);
  });

  it('exposes a sub-metric per window, baseline included', () => {
    expect(Object.keys(faultThresholds(faults))).toContain('http_req_failed{fault:baseline}');
    expect(Object.keys(faultThresholds(faults))).toContain('tcp_errors{fault:nats}');
  });

  it('refuses a schedule of the wrong shape, naming the variable', () => {
    expect(parseFaults(undefined)).toEqual([]);
    expect(() => parseFaults('{}')).toThrow('CHAOS_FAULTS: expected a JSON array');
    expect(() => parseFaults('[{"name":1}]')).toThrow(/^CHAOS_FAULTS\[0\]/);
  });
});

describe('parseSeconds (k6 side)', () => {
  it('reads the duration forms the runner reads', () => {
    expect(parseSeconds('DURATION', '90')).toBe(90);
    expect(parseSeconds('DURATION', '2m')).toBe(120);
    expect(parseSeconds('DURATION', '250ms')).toBe(0.25);
    expect(() => parseSeconds('DURATION', 'soon')).toThrow(
      'DURATION=soon: expected a duration such as 30s, 2m or 1h',
    );
    expect(() => parseSeconds('DURATION', '0s')).toThrow('DURATION=0s: must be longer than zero');
  });
});
