import exec from 'k6/execution';

/** Seconds since this scenario's executor started (after setup(), unlike the test-run clock). */
export const scenarioElapsedS = (): number => (Date.now() - exec.scenario.startTime) / 1000;
import { seconds } from './config.ts';

/**
 * Load in levels: ramp to a level, hold it, ramp to the next. Every iteration is tagged
 * `level=<index>` while a level is held (`level=ramp` in between), so the summary has one
 * sub-metric per level and the runner can find the knee (runner/knee.ts). Works for VUs
 * (closed model: `ramping-vus`) and arrival rates (open model: `ramping-arrival-rate`).
 */

export type LoadUnit = 'vus' | 'iterations/s';

export interface Level {
  index: number;
  /** VUs, or iterations per second. */
  load: number;
  /** When the hold begins and how long it lasts, from the start of the test. */
  startS: number;
  holdS: number;
}

export interface LevelPlan {
  unit: LoadUnit;
  rampS: number;
  levels: Level[];
  totalS: number;
}

/** `count` distinct loads from max/count up to max (fewer when max is small). */
export function linearLoads(max: number, count: number): number[] {
  const loads = new Set<number>();
  for (let i = 1; i <= count; i++) loads.add(Math.max(1, Math.round((max * i) / count)));
  return [...loads];
}

/** Loads from `min` to `max` in `count` geometric steps: the knee of a server is found faster. */
export function geometricLoads(min: number, max: number, count: number): number[] {
  if (count <= 1 || max <= min) return [max];
  const loads = new Set<number>();
  const factor = Math.pow(max / min, 1 / (count - 1));
  for (let i = 0; i < count; i++) loads.add(Math.round(min * Math.pow(factor, i)));
  return [...loads];
}

export function levelPlan(
  unit: LoadUnit,
  loads: number[],
  holdS: number,
  rampS: number,
): LevelPlan {
  const levels: Level[] = [];
  let t = 0;
  loads.forEach((load, index) => {
    t += rampS;
    levels.push({ index, load, startS: t, holdS });
    t += holdS;
  });
  return { unit, rampS, levels, totalS: t };
}

/** The stages of the executor: a ramp, then a hold, per level. */
export function planStages(plan: LevelPlan): { duration: string; target: number }[] {
  return plan.levels.flatMap((l) => [
    { duration: seconds(plan.rampS), target: l.load },
    { duration: seconds(l.holdS), target: l.load },
  ]);
}

/** The level held at `elapsedS`, or 'ramp'. */
export function levelAt(plan: LevelPlan, elapsedS: number): string {
  for (const l of plan.levels) {
    if (elapsedS >= l.startS && elapsedS < l.startS + l.holdS) return String(l.index);
  }
  return 'ramp';
}

/**
 * Thresholds that always pass, on each level's sub-metrics: k6 puts a sub-metric in the summary
 * only when a threshold names it.
 */
export function levelThresholds(plan: LevelPlan): Record<string, string[]> {
  const t: Record<string, string[]> = {};
  for (const l of plan.levels) {
    t[`http_reqs{level:${l.index}}`] = ['count>=0'];
    t[`http_req_duration{level:${l.index}}`] = ['max>=0'];
    t[`http_req_failed{level:${l.index}}`] = ['rate>=0'];
    t[`iterations{level:${l.index}}`] = ['count>=0'];
  }
  return t;
}

/** Tags everything this VU records from now on with the level being held. Call per iteration. */
export function tagLevel(plan: LevelPlan): void {
  exec.vu.metrics.tags['level'] = levelAt(plan, scenarioElapsedS());
}
