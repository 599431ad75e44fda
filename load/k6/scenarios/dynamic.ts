import exec from 'k6/execution';
import { apiReads, focusCrud, pages, stockCodes } from '../lib/journeys.ts';
import { levelThresholds, planStages, tagLevel } from '../lib/levels.ts';
import { HTTP_THRESHOLDS, SUMMARY_TREND_STATS, vuLevels } from '../lib/plan.ts';
import { summaryFiles } from '../lib/summary.ts';

/** The dynamic service through the gateway: pages 45%, API reads 45%, focus CRUD 10%. */
const plan = vuLevels({ vus: 24, durationS: 40 });

export const options = {
  scenarios: {
    dynamic: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: planStages(plan),
      exec: 'dynamic',
      gracefulRampDown: '3s',
    },
  },
  thresholds: {
    ...HTTP_THRESHOLDS,
    ...levelThresholds(plan),
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup(): { codes: string[] } {
  return { codes: stockCodes() };
}

export function dynamic(data: { codes: string[] }): void {
  tagLevel(plan);
  const n = exec.scenario.iterationInTest % 20;
  const code = data.codes[(exec.vu.idInTest - 1) % data.codes.length]!;
  if (n < 9) pages();
  else if (n < 18) apiReads(code);
  else focusCrud(code);
}

export function handleSummary(data: Parameters<typeof summaryFiles>[0]): Record<string, string> {
  return summaryFiles(data, { scenario: 'dynamic', levels: plan });
}
