import { envInt, envSeconds } from './config.ts';
import { levelPlan, linearLoads, type LevelPlan } from './levels.ts';

/**
 * The closed-model plan most scenarios share: `VUS` reached in `LEVELS` equal steps over
 * `DURATION`, each step ramped over `RAMP` (default: a tenth of the step, 1–5 s) and then held.
 */
export function vuLevels(defaults: { vus: number; durationS: number; levels?: number }): LevelPlan {
  const vus = envInt('VUS', defaults.vus, 1, 5000);
  const durationS = envSeconds('DURATION', defaults.durationS);
  const loads = linearLoads(vus, envInt('LEVELS', defaults.levels ?? 4, 1, 20));
  const step = durationS / loads.length;
  const rampS = envSeconds('RAMP', Math.min(5, Math.max(1, Math.round(step / 10))));
  const holdS = Math.max(1, Math.round(step - rampS));
  return levelPlan('vus', loads, holdS, rampS);
}

export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];

/**
 * The verdict of a closed-model HTTP scenario: under 1 % failed requests and checks, p95 under
 * 500 ms and p99 under 1.5 s. Scenarios spread it and add their own (soak is stricter).
 */
export const HTTP_THRESHOLDS = {
  http_req_failed: ['rate<0.01'],
  checks: ['rate>0.99'],
  http_req_duration: ['p(95)<500', 'p(99)<1500'],
};
