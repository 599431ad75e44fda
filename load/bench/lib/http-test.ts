import type { BenchTest, RunningSystem } from './matrix.ts';
import type { Column } from './report.ts';
import { runWrk, type WrkResult } from './wrk.ts';

/** wrk's figures as the named numbers of one measurement. */
export function wrkMetrics(r: WrkResult): Record<string, number> {
  return {
    requestsPerSec: r.requestsPerSec,
    MBps: r.bytesPerSec / 1e6,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    errors: r.errors,
    loadCpuPercent: r.loadCpuPercent,
  };
}

/** GET `path` with wrk at `connections` (64 by default) for `durationS`; a 2 s warm-up. */
export function wrkTest(
  name: string,
  path: string,
  opts: { durationS: number; connections?: number },
): BenchTest {
  const measure = async (s: RunningSystem, seconds: number) =>
    wrkMetrics(
      await runWrk({
        url: `${s.url}${path}`,
        connections: opts.connections ?? 64,
        durationS: seconds,
      }),
    );
  return {
    name,
    measure: (s) => measure(s, opts.durationS),
    warmup: (s) => measure(s, Math.min(2, opts.durationS)),
  };
}

/** The columns of an HTTP report: rates, latency, server and load-generator cost, errors. */
export const HTTP_COLUMNS: readonly Column[] = [
  { metric: 'requestsPerSec', heading: 'req/s' },
  { metric: 'p50Ms', heading: 'p50 ms', digits: 2 },
  { metric: 'p99Ms', heading: 'p99 ms', digits: 2 },
  { metric: 'MBps', heading: 'MB/s' },
  { metric: 'serverCpuPercent', heading: 'server CPU %' },
  { metric: 'serverRssMiB', heading: 'RSS MiB' },
  { metric: 'loadCpuPercent', heading: 'load CPU %' },
  { metric: 'errors', heading: 'errors' },
];
