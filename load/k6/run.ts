/**
 * The k6 runner behind `make load`, `make load-smoke` and `make load-compare` (load/README.md):
 *
 *   node load/k6/run.ts <scenario> [--vus N] [--duration 60s] [--rate N] [--no-start]
 *   node load/k6/run.ts compare [A] [B] [--threshold 0.1]
 *   node load/k6/run.ts list
 *
 * A run aims k6 at BASE_URL / TCP_ADDR (the lab's gateway by default), starts the lab with
 * `netlab up` when nothing answers there (and stops it afterwards), and writes
 * load/results/<time>-<scenario>/: summary.json, report.html (k6's web dashboard export: charts),
 * summary.md (printed) and k6.log. The exit code is k6's: 0 when every threshold held.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, repoRoot } from '../bench/lib/index.ts';
import {
  comparisonMarkdown,
  compareSummaries,
  DEFAULT_REGRESSION_THRESHOLD,
} from './runner/compare.ts';
import { chaosParts, faultSchedule, type FaultAction } from './runner/faults.ts';
import { runK6 } from './runner/k6-process.ts';
import { LARGE_FILE_PATH, openLab, type Lab } from './runner/lab.ts';
import { runReport } from './runner/report.ts';
import { dashboardPeriodS, parseDurationS, SCENARIOS, scenarioNamed } from './runner/scenarios.ts';
import type { K6Summary } from './runner/summary.ts';

const root = repoRoot(process.cwd());
const resultsBase = join(root, 'load', 'results');
const say = (line: string): void => void process.stderr.write(`load: ${line}\n`);
const usage = `usage: node load/k6/run.ts <scenario> [--vus N] [--duration 60s] [--rate N] [--no-start]
       node load/k6/run.ts compare [A] [B] [--threshold 0.1]
       node load/k6/run.ts list
scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`load: ${message}\n`);
  process.exit(code);
}

const env = (name: string): string | undefined => {
  const v = process.env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
};

async function runScenario(
  name: string,
  flags: Record<string, string | boolean | undefined>,
): Promise<number> {
  const scenario = scenarioNamed(name);
  if (scenario === undefined) fail(`unknown scenario '${name}'\n${usage}`);
  const k6 = join(root, '.bin', 'k6');
  if (!existsSync(k6))
    fail('.bin/k6 is missing: run `make k6` (builds k6 with the TCP extension from source)', 1);

  const baseUrl = (env('BASE_URL') ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const tcpAddr = env('TCP_ADDR') ?? '127.0.0.1:7000';
  const overrides: Record<string, string> = {};
  for (const key of ['vus', 'duration', 'rate'] as const) {
    const v = flags[key];
    if (typeof v === 'string' && v !== '') overrides[key.toUpperCase()] = v;
  }
  const durationRaw = overrides['DURATION'] ?? env('DURATION');
  const durationS = durationRaw === undefined ? scenario.defaultS : parseDurationS(durationRaw);
  if (durationS === undefined)
    fail(`DURATION=${durationRaw}: expected a duration such as 30s, 2m or 1h`);

  let faults: ReturnType<typeof faultSchedule> = [];
  if (scenario.name === 'chaos') {
    try {
      faults = faultSchedule(durationS, chaosParts(env('CHAOS_PARTS')));
    } catch (err) {
      fail((err as Error).message);
    }
  }

  const startedAt = new Date();
  const dir = join(
    resultsBase,
    `${startedAt.toISOString().replace(/[:.]/g, '-')}-${scenario.name}`,
  );
  mkdirSync(dir, { recursive: true });

  const readyTimeout = parseDurationS(env('LAB_READY_TIMEOUT') ?? '120s');
  if (readyTimeout === undefined)
    fail(`LAB_READY_TIMEOUT=${env('LAB_READY_TIMEOUT')}: expected a duration`);
  let lab: Lab;
  try {
    lab = await openLab({
      root,
      baseUrl,
      logFile: join(dir, 'lab.log'),
      readyTimeoutMs: readyTimeout * 1000,
      start: flags['no-start'] !== true,
      say,
    });
  } catch (err) {
    fail((err as Error).message, 1);
  }
  let k6run: ReturnType<typeof runK6> | undefined;
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) return;
    stopping = true;
    say('interrupted: stopping k6, then the lab if the runner started it');
    k6run?.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    if (faults.length > 0 && !lab.started) {
      const status = await lab.netlab(['status'], 10_000);
      if (status.code !== 0)
        fail(
          'chaos restarts parts through the netlab CLI: run the lab with make dev (or stop it and let the runner start one)',
          1,
        );
    }
    const k6env: NodeJS.ProcessEnv = {
      ...process.env,
      ...overrides,
      BASE_URL: baseUrl,
      TCP_ADDR: tcpAddr,
      RESULTS_DIR: dir,
      STATIC_LARGE_PATH: lab.notes.some((n) => n.includes(LARGE_FILE_PATH))
        ? '-'
        : (env('STATIC_LARGE_PATH') ?? LARGE_FILE_PATH),
      CHAOS_FAULTS: JSON.stringify(faults),
      K6_WEB_DASHBOARD: 'true',
      K6_WEB_DASHBOARD_PORT: '-1',
      K6_WEB_DASHBOARD_EXPORT: join(dir, 'report.html'),
      K6_WEB_DASHBOARD_PERIOD: `${dashboardPeriodS(durationS)}s`,
      K6_NO_USAGE_REPORT: 'true',
    };
    say(`k6 ${scenario.name} (${scenario.what}) → ${dir}`);
    k6run = runK6({
      bin: k6,
      script: join(root, 'load', 'k6', 'scenarios', scenario.script),
      env: k6env,
      logFile: join(dir, 'k6.log'),
      apiPort: await freePort(),
      quiet: process.stderr.isTTY !== true,
    });
    const actions: FaultAction[] = [];
    const chaos = faults.length === 0 ? Promise.resolve() : runFaults(lab, k6run, faults, actions);
    const exitCode = await k6run.exitCode;
    await chaos;

    const summaryFile = join(dir, 'summary.json');
    if (!existsSync(summaryFile)) {
      say(`k6 exited with code ${exitCode} and wrote no summary (see ${join(dir, 'k6.log')})`);
      return exitCode === 0 ? 1 : exitCode;
    }
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as K6Summary;
    const report = runReport(summary, {
      scenario: scenario.name,
      dir,
      baseUrl,
      tcpAddr,
      k6ExitCode: exitCode,
      labStarted: lab.started,
      startedAt: startedAt.toISOString(),
      faultActions: actions,
      hasHtml: existsSync(join(dir, 'report.html')),
      notes: [
        ...lab.notes,
        'The machine is shared: figures from a busy machine are noisy; compare runs made alike (make load-compare).',
      ],
    });
    writeFileSync(join(dir, 'summary.md'), report.markdown);
    writeFileSync(
      join(dir, 'run.json'),
      JSON.stringify(
        {
          scenario: scenario.name,
          startedAt,
          baseUrl,
          tcpAddr,
          overrides,
          durationS,
          exitCode,
          labStarted: lab.started,
          faults: actions,
          knee: report.knee?.text,
        },
        null,
        2,
      ),
    );
    process.stdout.write(`${report.markdown}\n`);
    return exitCode === 0 && !report.passed ? 1 : exitCode;
  } finally {
    await lab.stop();
  }
}

/** Restarts each part at its time, one after the other, through `netlab restart`. */
async function runFaults(
  lab: Lab,
  k6run: ReturnType<typeof runK6>,
  faults: ReturnType<typeof faultSchedule>,
  actions: FaultAction[],
): Promise<void> {
  let t0: number;
  try {
    t0 = await k6run.running;
  } catch {
    return;
  }
  let finished = false;
  void k6run.exitCode.then(() => (finished = true));
  for (const fault of faults) {
    const wait = t0 + fault.atS * 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (finished) return;
    const started = Date.now();
    say(`chaos: netlab restart ${fault.name} at ${((started - t0) / 1000).toFixed(1)} s`);
    const result = await lab.netlab(['restart', fault.name], 90_000);
    actions.push({
      name: fault.name,
      startedS: (started - t0) / 1000,
      tookS: (Date.now() - started) / 1000,
      ok: result.code === 0,
      detail: result.code === 0 ? undefined : result.output.trim().split('\n').slice(-1)[0],
    });
  }
}

/** A run folder, or its summary.json; without arguments, the two newest runs of the newest scenario. */
function resolveRuns(args: string[]): [string, string] {
  const runs = existsSync(resultsBase)
    ? readdirSync(resultsBase)
        .filter((d) => existsSync(join(resultsBase, d, 'summary.json')))
        .sort()
    : [];
  const scenarioOf = (d: string): string => d.replace(/^\d{4}-\d\d-\d\dT[\d-]+Z-/, '');
  const pick = (arg: string): string => {
    const candidates = [arg, join(resultsBase, arg)].map((p) => resolve(p));
    for (const c of candidates) {
      if (existsSync(c) && statSync(c).isDirectory() && existsSync(join(c, 'summary.json')))
        return join(c, 'summary.json');
      if (existsSync(c) && statSync(c).isFile()) return c;
    }
    fail(`no run at ${arg} (a folder under load/results with a summary.json, or the file itself)`);
  };
  if (args.length >= 2) return [pick(args[0]!), pick(args[1]!)];
  if (args.length === 1) {
    const b = pick(args[0]!);
    const same = runs.filter(
      (d) =>
        join(resultsBase, d, 'summary.json') !== b &&
        scenarioOf(d) === scenarioOf(resolve(b, '..').split('/').pop()!),
    );
    if (same.length === 0) fail(`no earlier run of the same scenario to compare ${args[0]} with`);
    return [join(resultsBase, same[same.length - 1]!, 'summary.json'), b];
  }
  const newest = runs[runs.length - 1];
  if (newest === undefined) fail('no runs under load/results yet: make load first');
  const same = runs.filter((d) => scenarioOf(d) === scenarioOf(newest));
  if (same.length < 2)
    fail(
      `only one run of ${scenarioOf(newest)} under load/results: run it again, or name two runs`,
    );
  return [
    join(resultsBase, same[same.length - 2]!, 'summary.json'),
    join(resultsBase, newest, 'summary.json'),
  ];
}

function compare(args: string[], thresholdRaw: string | undefined): number {
  const raw = thresholdRaw ?? env('LOAD_REGRESSION_THRESHOLD');
  const threshold = raw === undefined ? DEFAULT_REGRESSION_THRESHOLD : Number(raw);
  if (!(threshold > 0 && threshold < 10))
    fail(`LOAD_REGRESSION_THRESHOLD=${raw}: expected a fraction such as 0.1 (10%)`);
  const [a, b] = resolveRuns(args);
  const read = (f: string): K6Summary => JSON.parse(readFileSync(f, 'utf8')) as K6Summary;
  const sa = read(a);
  const sb = read(b);
  if (sa.netlab?.scenario !== sb.netlab?.scenario) {
    say(
      `comparing different scenarios (${sa.netlab?.scenario} and ${sb.netlab?.scenario}): the figures are not alike`,
    );
  }
  const rows = compareSummaries(sa, sb, threshold);
  process.stdout.write(
    comparisonMarkdown(rows, { a: resolve(a, '..'), b: resolve(b, '..') }, threshold),
  );
  return rows.some((r) => r.regression) ? 1 : 0;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        vus: { type: 'string' },
        duration: { type: 'string' },
        rate: { type: 'string' },
        threshold: { type: 'string' },
        'no-start': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n${usage}`);
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help === true || command === undefined || command === 'help') {
    process.stdout.write(usage);
    return command === undefined && parsed.values.help !== true ? 2 : 0;
  }
  if (command === 'list') {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(18)} ${s.what}\n`);
    return 0;
  }
  if (command === 'compare') return compare(rest, parsed.values.threshold);
  if (rest.length > 0) fail(`unexpected arguments: ${rest.join(' ')}\n${usage}`);
  return runScenario(command, parsed.values);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err), 1),
);
