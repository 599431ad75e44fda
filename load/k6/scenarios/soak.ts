import { envInt, envSeconds, seconds } from '../lib/config.ts';
import { stockCodes } from '../lib/journeys.ts';
import { runMixedIteration } from '../lib/mix.ts';
import { SUMMARY_TREND_STATS } from '../lib/plan.ts';
import { summaryFiles } from '../lib/summary.ts';

/**
 * The mixed journeys at a steady VUS for a long DURATION (30 min by default): leaks, growing
 * latency and slow failures show up here and nowhere else. Watch RSS in `make status` meanwhile.
 */
const vus = envInt('VUS', 10, 1, 5000);

export const options = {
  scenarios: {
    soak: {
      executor: 'constant-vus',
      vus,
      duration: seconds(envSeconds('DURATION', 1800)),
      exec: 'soak',
      gracefulStop: '10s',
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    checks: ['rate>0.999'],
    http_req_duration: ['p(95)<500', 'p(99)<1500'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup(): { codes: string[] } {
  return { codes: stockCodes() };
}

export function soak(data: { codes: string[] }): void {
  runMixedIteration(data.codes);
}

export function handleSummary(data: Parameters<typeof summaryFiles>[0]): Record<string, string> {
  return summaryFiles(data, { scenario: 'soak' });
}
