import { fetchThroughFetcher } from '../lib/journeys.ts';
import { levelThresholds, planStages, tagLevel } from '../lib/levels.ts';
import { HTTP_THRESHOLDS, SUMMARY_TREND_STATS, vuLevels } from '../lib/plan.ts';
import { summaryFiles } from '../lib/summary.ts';

/** The fetcher through the gateway: POST /fetch of FETCH_TARGET (a lab URL the lab allows). */
const plan = vuLevels({ vus: 16, durationS: 40 });

export const options = {
  scenarios: {
    fetcher: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: planStages(plan),
      exec: 'fetcher',
      gracefulRampDown: '3s',
    },
  },
  thresholds: {
    ...HTTP_THRESHOLDS,
    ...levelThresholds(plan),
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function fetcher(): void {
  tagLevel(plan);
  fetchThroughFetcher();
}

export function handleSummary(data: Parameters<typeof summaryFiles>[0]): Record<string, string> {
  return summaryFiles(data, { scenario: 'fetcher', levels: plan });
}
