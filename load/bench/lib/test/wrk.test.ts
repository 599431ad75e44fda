import { parseWrkOutput } from '../wrk.ts';

describe('parseWrkOutput', () => {
  it('reads the done hook line into rates and millisecond percentiles', () => {
    const out = [
      'Running 10s test @ http://127.0.0.1:8081/',
      '@@wrk-json@@{"duration_us":2000000,"requests":10000,"bytes":4000000,"errors":3,"p50_us":1500,"p90_us":2500,"p99_us":9000,"max_us":20000}',
    ].join('\n');
    expect(parseWrkOutput(out, 97)).toEqual({
      requestsPerSec: 5000,
      bytesPerSec: 2_000_000,
      requests: 10000,
      p50Ms: 1.5,
      p90Ms: 2.5,
      p99Ms: 9,
      maxMs: 20,
      errors: 3,
      loadCpuPercent: 97,
    });
  });

  it('fails loudly when wrk printed no summary', () => {
    expect(() => parseWrkOutput('unable to connect', 0)).toThrow('wrk printed no summary');
  });
});
