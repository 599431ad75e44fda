import { envInt, envSeconds, seconds } from '../lib/config.ts';
import { stockCodes } from '../lib/journeys.ts';
import { runMixedIteration } from '../lib/mix.ts';
import { SUMMARY_TREND_STATS } from '../lib/plan.ts';
import { summaryFiles } from '../lib/summary.ts';

/**
 * A spike: BASE_VUS for a fifth of DURATION, a jump to VUS within 5 s, held for a fifth, back to
 * BASE_VUS, and the rest to see the lab recover. Errors may rise during the spike, not after.
 */
const vus = envInt('VUS', 100, 1, 5000);
const baseVus = envInt('BASE_VUS', Math.max(1, Math.round(vus / 10)), 1, 5000);
const d = envSeconds('DURATION', 60);

export const options = {
  scenarios: {
    spike: {
      executor: 'ramping-vus',
      startVUs: baseVus,
      stages: [
        { duration: seconds(d * 0.2), target: baseVus },
        { duration: '5s', target: vus },
        { duration: seconds(d * 0.2), target: vus },
        { duration: '5s', target: baseVus },
        { duration: seconds(Math.max(5, d * 0.6 - 10)), target: baseVus },
      ],
      exec: 'spike',
      gracefulRampDown: '5s',
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.05'],
    checks: ['rate>0.95'],
    http_req_duration: ['p(95)<2000'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup(): { codes: string[] } {
  return { codes: stockCodes() };
}

export function spike(data: { codes: string[] }): void {
  runMixedIteration(data.codes);
}

export function handleSummary(data: Parameters<typeof summaryFiles>[0]): Record<string, string> {
  return summaryFiles(data, {
    scenario: 'spike',
    notes: [`${baseVus} → ${vus} → ${baseVus} VUs.`],
  });
}
