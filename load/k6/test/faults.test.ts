import { CHAOS_PARTS, chaosParts, faultSchedule, faultWindows } from '../runner/faults.ts';
import { summaryWith } from './fixtures.ts';

describe('faultSchedule', () => {
  it('leaves the first 15% undisturbed and spaces one fault per part over the rest', () => {
    const s = faultSchedule(60, ['static', 'dynamic', 'nats']);
    expect(s).toEqual([
      { name: 'static', atS: 9 },
      { name: 'dynamic', atS: 26 },
      { name: 'nats', atS: 43 },
    ]);
  });

  it('restarts every service and nats-server by default', () => {
    expect(faultSchedule(120).map((f) => f.name)).toEqual([...CHAOS_PARTS]);
    expect(faultSchedule(120)).toHaveLength(5);
    expect(CHAOS_PARTS).toEqual(
      expect.arrayContaining(['static', 'dynamic', 'fetcher', 'tcp-echo', 'nats']),
    );
  });

  it('leaves the gateway out unless CHAOS_PARTS names it', () => {
    expect(chaosParts(undefined)).not.toContain('gateway');
    expect(chaosParts(' static, gateway ')).toEqual(['static', 'gateway']);
  });

  it('refuses a part the lab does not have, naming the variable', () => {
    expect(() => chaosParts('static,postgres')).toThrow(/^CHAOS_PARTS=static,postgres: expected/);
  });

  it('is empty without parts', () => {
    expect(faultSchedule(60, [])).toEqual([]);
  });
});

describe('faultWindows', () => {
  const faults = [
    { name: 'static', atS: 10 },
    { name: 'nats', atS: 30 },
  ];
  const summary = summaryWith({
    'http_reqs{fault:baseline}': { type: 'counter', values: { count: 1000 } },
    'http_req_failed{fault:baseline}': {
      type: 'rate',
      values: { rate: 0, passes: 0, fails: 1000 },
    },
    'http_reqs{fault:static}': { type: 'counter', values: { count: 2000 } },
    'http_req_failed{fault:static}': {
      type: 'rate',
      values: { rate: 0.0235, passes: 47, fails: 1953 },
    },
    'checks{fault:static}': { type: 'rate', values: { rate: 0.97, passes: 1940, fails: 60 } },
    'tcp_errors{fault:static}': { type: 'counter', values: { count: 2 } },
    'http_reqs{fault:nats}': { type: 'counter', values: { count: 1500 } },
    'http_req_failed{fault:nats}': { type: 'rate', values: { rate: 0, passes: 0, fails: 1500 } },
  });

  it('counts failed requests, failed checks and TCP errors per window, baseline first', () => {
    const w = faultWindows(summary, faults, 50, [
      { name: 'static', startedS: 10.1, tookS: 2.5, ok: true },
    ]);
    expect(w.map((x) => [x.name, x.fromS, x.toS, x.requests, x.failed])).toEqual([
      ['baseline', 0, 10, 1000, 0],
      ['static', 10, 30, 2000, 47],
      ['nats', 30, 50, 1500, 0],
    ]);
    expect(w[1]).toMatchObject({
      checksFailed: 60,
      tcpErrors: 2,
      action: { tookS: 2.5, ok: true },
    });
    expect(w[2]!.action).toBeUndefined();
  });

  it('reports an empty window as zero, not as missing', () => {
    const w = faultWindows(summaryWith({}), [{ name: 'gateway', atS: 5 }], 10);
    expect(w[1]).toMatchObject({ requests: 0, failed: 0, failedRate: 0, tcpErrors: 0 });
  });
});
