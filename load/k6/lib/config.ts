/**
 * What every scenario reads from the environment (k6 side). Targets come from `BASE_URL` and
 * `TCP_ADDR`; sizes of a run from `VUS`, `DURATION`, `RATE`. A bad value stops k6 in its init
 * context with a message naming the variable (exit code 107), before any traffic.
 */

const env = (name: string): string | undefined => {
  const value = __ENV[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
};

export function envString(name: string, fallback: string): string {
  return env(name) ?? fallback;
}

export function envInt(name: string, fallback: number, min = 1, max = 1_000_000): number {
  const raw = env(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}=${raw}: expected an integer from ${min} to ${max}`);
  }
  return value;
}

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** Seconds from `250ms`, `30s`, `2m`, `1h` or a bare number of seconds. */
export function parseSeconds(name: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw);
  if (m === null) throw new Error(`${name}=${raw}: expected a duration such as 30s, 2m or 1h`);
  const seconds = Number(m[1]) * UNITS[m[2] ?? 's']!;
  if (!(seconds > 0)) throw new Error(`${name}=${raw}: must be longer than zero`);
  return seconds;
}

export function envSeconds(name: string, fallback: number): number {
  const raw = env(name);
  return raw === undefined ? fallback : parseSeconds(name, raw);
}

/** Whole seconds as k6 wants them in stages and durations. */
export const seconds = (s: number): string => `${Math.max(1, Math.round(s))}s`;

export const BASE_URL = envString('BASE_URL', 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const TCP_ADDR = envString('TCP_ADDR', '127.0.0.1:7000');
/** A URL the fetcher is allowed to reach (the lab allows 127.0.0.1:8080-8082). */
export const FETCH_TARGET = envString('FETCH_TARGET', 'http://127.0.0.1:8081/lab.css');
/**
 * A large file under BASE_URL; empty or `-` (the default: the site has none of its own) skips it.
 * The runner sets /load/large.bin when the lab serves it (a lab the runner starts does).
 */
export const STATIC_LARGE_PATH = envString('STATIC_LARGE_PATH', '-');
export const STATIC_SMALL_PATH = envString('STATIC_SMALL_PATH', '/lab.css');
/** Where handleSummary writes summary.json (the runner sets it); unset: a short text on stdout. */
export const RESULTS_DIR = env('RESULTS_DIR');
