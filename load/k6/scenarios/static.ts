import { hasLargeFile, staticLarge, staticRevalidate, staticSmall } from '../lib/journeys.ts';
import { levelThresholds, planStages, tagLevel } from '../lib/levels.ts';
import { SUMMARY_TREND_STATS, vuLevels } from '../lib/plan.ts';
import { summaryFiles } from '../lib/summary.ts';

/**
 * The static service through the gateway: small files (with a conditional GET answered 304) at
 * `VUS`, and a 1 MiB file at a quarter of them, both rising in levels.
 */
const plan = vuLevels({ vus: 32, durationS: 40 });
const largePlan = {
  ...plan,
  levels: plan.levels.map((l) => ({ ...l, load: Math.max(1, Math.round(l.load / 4)) })),
};

export const options = {
  scenarios: {
    small: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: planStages(plan),
      exec: 'small',
      gracefulRampDown: '3s',
    },
    ...(hasLargeFile
      ? {
          large: {
            executor: 'ramping-vus',
            startVUs: 0,
            stages: planStages(largePlan),
            exec: 'large',
            gracefulRampDown: '3s',
          },
        }
      : {}),
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    checks: ['rate>0.999'],
    'http_req_duration{scenario:small}': ['p(95)<100', 'p(99)<250'],
    ...(hasLargeFile ? { 'http_req_duration{scenario:large}': ['p(95)<1000'] } : {}),
    ...levelThresholds(plan),
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function small(): void {
  tagLevel(plan);
  staticSmall();
  staticRevalidate();
}

export function large(): void {
  tagLevel(plan);
  staticLarge();
}

export function handleSummary(data: Parameters<typeof summaryFiles>[0]): Record<string, string> {
  return summaryFiles(data, {
    scenario: 'static',
    levels: plan,
    notes: hasLargeFile
      ? ['The large file runs at a quarter of the VUs of the small ones; levels count both.']
      : [],
  });
}
