import { levelThresholds, planStages, tagLevel } from '../lib/levels.ts';
import { stockCodes } from '../lib/journeys.ts';
import { runMixedIteration } from '../lib/mix.ts';
import { HTTP_THRESHOLDS, SUMMARY_TREND_STATS, vuLevels } from '../lib/plan.ts';
import { summaryFiles } from '../lib/summary.ts';

/**
 * Weighted user journeys through the gateway (lib/mix.ts), VUs rising in levels to `VUS` over
 * `DURATION`: the runner reports each level and where the knee is.
 */
const plan = vuLevels({ vus: 20, durationS: 60 });

export const options = {
  scenarios: {
    mixed: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: planStages(plan),
      exec: 'mixed',
      gracefulRampDown: '5s',
    },
  },
  thresholds: {
    ...HTTP_THRESHOLDS,
    tcp_errors: ['count<10'],
    ...levelThresholds(plan),
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup(): { codes: string[] } {
  return { codes: stockCodes() };
}

export function mixed(data: { codes: string[] }): void {
  tagLevel(plan);
  runMixedIteration(data.codes);
}

export function handleSummary(data: Parameters<typeof summaryFiles>[0]): Record<string, string> {
  return summaryFiles(data, { scenario: 'mixed', levels: plan });
}
