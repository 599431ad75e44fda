/** The scenarios `make load SCENARIO=…` knows, with their default length (load/README.md). */
export interface ScenarioInfo {
  name: string;
  /** The k6 script under load/k6/scenarios/. */
  script: string;
  /** Default DURATION in seconds (smoke: its bound). */
  defaultS: number;
  what: string;
}

export const SCENARIOS: readonly ScenarioInfo[] = [
  {
    name: 'smoke',
    script: 'smoke.ts',
    defaultS: 60,
    what: 'every route once, 2 VUs; any error fails',
  },
  {
    name: 'mixed',
    script: 'mixed.ts',
    defaultS: 60,
    what: 'weighted user journeys, VUs in 4 levels; prints the knee',
  },
  {
    name: 'static',
    script: 'static.ts',
    defaultS: 40,
    what: 'small and large static files, VUs in levels',
  },
  {
    name: 'dynamic',
    script: 'dynamic.ts',
    defaultS: 40,
    what: 'pages, API reads and focus CRUD, VUs in levels',
  },
  {
    name: 'fetcher',
    script: 'fetcher.ts',
    defaultS: 40,
    what: 'POST /fetch of a lab URL, VUs in levels',
  },
  {
    name: 'tcp-echo',
    script: 'tcp-echo.ts',
    defaultS: 30,
    what: '64-byte round trips over k6/x/tcp',
  },
  {
    name: 'stress',
    script: 'stress.ts',
    defaultS: 90,
    what: 'mixed journeys at a ramping arrival rate; prints the knee',
  },
  { name: 'spike', script: 'spike.ts', defaultS: 60, what: 'a sudden jump to VUS and back' },
  {
    name: 'soak',
    script: 'soak.ts',
    defaultS: 1800,
    what: 'mixed journeys at a steady load for a long time',
  },
  {
    name: 'blocking-vs-async',
    script: 'blocking-vs-async.ts',
    defaultS: 40,
    what: 'the WSGI/ASGI pair of endpoints',
  },
  {
    name: 'chaos',
    script: 'chaos.ts',
    defaultS: 60,
    what: 'mixed while each part and nats-server restart',
  },
];

export const scenarioNamed = (name: string): ScenarioInfo | undefined =>
  SCENARIOS.find((s) => s.name === name);

/** Seconds from `250ms`, `30s`, `2m`, `1h` or a bare number of seconds, as the scenarios read them. */
export function parseDurationS(raw: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (m === null) return undefined;
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  const s = Number(m[1]) * factor;
  return s > 0 ? s : undefined;
}

/** The dashboard's aggregation period: about 120 points per chart, at least 1 s. */
export const dashboardPeriodS = (durationS: number): number =>
  Math.max(1, Math.round(durationS / 120));
