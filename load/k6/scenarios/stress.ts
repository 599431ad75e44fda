import { envInt, envSeconds } from '../lib/config.ts';
import { stockCodes } from '../lib/journeys.ts';
import { geometricLoads, levelPlan, levelThresholds, planStages, tagLevel } from '../lib/levels.ts';
import { runMixedIteration } from '../lib/mix.ts';
import { SUMMARY_TREND_STATS } from '../lib/plan.ts';
import { summaryFiles } from '../lib/summary.ts';

/**
 * The mixed journeys at a ramping arrival rate (open model: new iterations start on schedule
 * whether or not earlier ones finished, as real users arrive): from START_RATE to RATE iterations
 * per second in LEVELS geometric steps, each held for the level's share of DURATION. The runner
 * reports each level and the knee. The verdict is about the first level only (it must be
 * healthy): the later ones are meant to break.
 */
const maxRate = envInt('RATE', 400, 1, 100_000);
const startRate = Math.min(
  maxRate,
  envInt('START_RATE', Math.max(1, Math.round(maxRate / 16)), 1, 100_000),
);
const count = envInt('LEVELS', 6, 1, 20);
const durationS = envSeconds('DURATION', 90);
const rampS = envSeconds('RAMP', 2);
const loads = geometricLoads(startRate, maxRate, count);
const maxVus = envInt('MAX_VUS', 300, 1, 5000);
const plan = levelPlan(
  'iterations/s',
  loads,
  Math.max(1, Math.round(durationS / loads.length - rampS)),
  rampS,
);

export const options = {
  scenarios: {
    stress: {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      preAllocatedVUs: Math.min(maxVus, Math.max(10, Math.round(startRate * 2))),
      maxVUs: maxVus,
      stages: planStages(plan),
      exec: 'stress',
      gracefulStop: '5s',
    },
  },
  thresholds: {
    // First: the named thresholds below replace its always-true ones for the same sub-metrics.
    ...levelThresholds(plan),
    'http_req_failed{level:0}': ['rate<0.01'],
    'http_req_duration{level:0}': ['p(95)<500'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup(): { codes: string[] } {
  return { codes: stockCodes() };
}

export function stress(data: { codes: string[] }): void {
  tagLevel(plan);
  runMixedIteration(data.codes);
}

export function handleSummary(data: Parameters<typeof summaryFiles>[0]): Record<string, string> {
  return summaryFiles(data, {
    scenario: 'stress',
    levels: plan,
    notes: [
      `Arrival rate ${loads.join(' → ')} iterations/s (MAX_VUS ${maxVus}); an iteration is one mixed journey (1–4 requests).`,
    ],
  });
}
