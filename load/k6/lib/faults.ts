import exec from 'k6/execution';
import { scenarioElapsedS } from './levels.ts';

/**
 * The chaos scenario's fault schedule, computed by the runner (runner/faults.ts) and handed over
 * in `CHAOS_FAULTS` as JSON: `[{ "name": "static", "atS": 6 }, …]`. Every iteration is tagged
 * `fault=<name>` from a fault's start until the next one (`fault=baseline` before the first), so
 * the summary counts failed requests per fault window.
 */
export interface Fault {
  name: string;
  atS: number;
}

export function parseFaults(raw: string | undefined): Fault[] {
  if (raw === undefined || raw.trim() === '') return [];
  const parsed: unknown = JSON.parse(raw);
  if (!Array.isArray(parsed)) throw new Error('CHAOS_FAULTS: expected a JSON array');
  return parsed.map((f: { name?: unknown; atS?: unknown }, i) => {
    if (typeof f.name !== 'string' || typeof f.atS !== 'number') {
      throw new Error(`CHAOS_FAULTS[${i}]: expected { "name": string, "atS": number }`);
    }
    return { name: f.name, atS: f.atS };
  });
}

export function faultAt(faults: readonly Fault[], elapsedS: number): string {
  let current = 'baseline';
  for (const f of faults) if (elapsedS >= f.atS) current = f.name;
  return current;
}

export function faultThresholds(faults: readonly Fault[]): Record<string, string[]> {
  const t: Record<string, string[]> = {};
  for (const name of ['baseline', ...faults.map((f) => f.name)]) {
    t[`http_reqs{fault:${name}}`] = ['count>=0'];
    t[`http_req_failed{fault:${name}}`] = ['rate>=0'];
    t[`tcp_errors{fault:${name}}`] = ['count>=0'];
    t[`checks{fault:${name}}`] = ['rate>=0'];
  }
  return t;
}

export function tagFault(faults: readonly Fault[]): void {
  exec.vu.metrics.tags['fault'] = faultAt(faults, scenarioElapsedS());
}
