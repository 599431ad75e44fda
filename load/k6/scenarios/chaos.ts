import { envInt, envSeconds, seconds } from '../lib/config.ts';
import { faultThresholds, parseFaults, tagFault } from '../lib/faults.ts';
import { stockCodes } from '../lib/journeys.ts';
import { runMixedIteration } from '../lib/mix.ts';
import { SUMMARY_TREND_STATS } from '../lib/plan.ts';
import { summaryFiles } from '../lib/summary.ts';

/**
 * The mixed journeys at a steady VUS while the runner restarts each part and nats-server through
 * `netlab restart` at the times in CHAOS_FAULTS (runner/faults.ts). Every iteration is tagged with
 * the fault window it starts in; the report counts failed requests per window. The verdict: the
 * undisturbed baseline is clean and, overall, at most 5% of requests failed.
 */
const faults = parseFaults(__ENV['CHAOS_FAULTS']);
const vus = envInt('VUS', 10, 1, 5000);

export const options = {
  scenarios: {
    chaos: {
      executor: 'constant-vus',
      vus,
      duration: seconds(envSeconds('DURATION', 60)),
      exec: 'chaos',
      gracefulStop: '5s',
    },
  },
  thresholds: {
    // First: the named thresholds below replace its always-true ones for the same sub-metrics.
    ...faultThresholds(faults),
    http_req_failed: ['rate<0.05'],
    'http_req_failed{fault:baseline}': ['rate<0.01'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup(): { codes: string[] } {
  return { codes: stockCodes() };
}

export function chaos(data: { codes: string[] }): void {
  tagFault(faults);
  runMixedIteration(data.codes);
}

export function handleSummary(data: Parameters<typeof summaryFiles>[0]): Record<string, string> {
  return summaryFiles(data, {
    scenario: 'chaos',
    faults,
    notes:
      faults.length === 0
        ? ['CHAOS_FAULTS was empty: no faults were injected (run it through load/k6/run.ts).']
        : [],
  });
}
