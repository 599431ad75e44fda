/**
 * netlab's dynamic service against FastAPI on uvicorn, on the same SQLite file, in one run
 * (../../../../shared/BENCHMARKING.md):
 *
 *   node load/bench/dynamic/run.ts [--duration 10] [--reps 3] [--systems netlab-dynamic,fastapi]
 *
 * Tests (wrk -t2 -c64): GET /index.html (the first page, server-rendered) and
 * GET /api/stocks?limit=50 (validated query, two SQL queries, JSON). Target (issue "dynamic"):
 * ≥ 2× FastAPI on both. Then the WSGI/ASGI lesson: 100 ms of waiting per request, done blocking
 * and asynchronously, at 64 connections.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  HTTP_COLUMNS,
  machineNotes,
  runMatrix,
  runWrk,
  summarize,
  writeReport,
  wrkMetrics,
} from '../lib/index.ts';
import type { BenchSystem, BenchTest, RunningSystem, SummaryRow } from '../lib/index.ts';
import {
  dynamicVersion,
  fastapi,
  installPeers,
  netlabDynamic,
  peerVersions,
  REPO,
} from './systems.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    reps: { type: 'string', default: '3' },
    systems: { type: 'string' },
    lesson: { type: 'boolean', default: true },
  },
  // --no-lesson
  allowNegative: true,
});
const durationS = Number(values.duration);
const reps = Number(values.reps);
const say = (line: string): void => void process.stderr.write(`${line}\n`);

/** A wrk test whose path may differ per system (the lesson's endpoints are named differently). */
function wrkTest(
  name: string,
  path: string | Record<string, string>,
  systemOf: (s: RunningSystem) => string,
): BenchTest {
  const measure = async (s: RunningSystem, seconds: number): Promise<Record<string, number>> => {
    const p = typeof path === 'string' ? path : path[systemOf(s)];
    if (p === undefined) return {};
    const r = await runWrk({
      url: `${s.url}${p}`,
      connections: 64,
      durationS: seconds,
      timeoutS: 10,
    });
    await drained(s.url);
    return wrkMetrics(r);
  };
  return {
    name,
    measure: (s) => measure(s, durationS),
    warmup: (s) => measure(s, Math.min(2, durationS)),
  };
}

/**
 * A server that blocked still owes the requests wrk left queued, in no particular order: wait until
 * it answers a cheap request quickly, or they would be counted against the next test.
 */
async function drained(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const started = performance.now();
    const res = await fetch(`${url}/api/stocks?limit=1`, { signal: AbortSignal.timeout(30_000) });
    await res.arrayBuffer();
    if (performance.now() - started < 50) return;
  }
}

/** The first answer that is not a 503 (dynamic answers 503 until its schema is ready). */
async function ready(url: string): Promise<Response> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(url);
    if (res.status !== 503) return res;
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} kept answering 503`);
}

/** A page with what may differ between systems blanked: the CSRF tokens and the instance name. */
function normalizePage(html: string): string {
  return html
    .replace(/name="_csrf" value="[A-Za-z0-9_-]+"/g, 'name="_csrf" value=""')
    .replace(/Served by \S+ /, 'Served by ? ');
}

/**
 * Every system must answer the same JSON and render the same page (FastAPI renders netlab's own
 * templates with Jinja2), or the comparison means nothing.
 */
async function checkSameAnswers(systems: readonly BenchSystem[]): Promise<void> {
  const answers: string[] = [];
  const pages: string[] = [];
  for (const system of systems) {
    const running = await system.start();
    try {
      const res = await ready(`${running.url}/api/stocks?limit=50`);
      answers.push(JSON.stringify(await res.json()));
      const html = await (await fetch(`${running.url}/index.html`)).text();
      const rows = html.match(/<tr data-code=/g)?.length ?? 0;
      if (rows !== 20) throw new Error(`${system.name}: /index.html has ${rows} rows, not 20`);
      pages.push(normalizePage(html));
    } finally {
      await running.stop();
    }
  }
  if (new Set(answers).size > 1)
    throw new Error('the systems answer /api/stocks?limit=50 differently');
  if (new Set(pages).size > 1) throw new Error('the systems render /index.html differently');
}

async function main(): Promise<void> {
  installPeers(say);
  execFileSync(
    process.execPath,
    [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'services/dynamic'],
    {
      cwd: REPO,
      stdio: 'inherit',
    },
  );
  const dir = mkdtempSync(join(tmpdir(), 'netlab-bench-dynamic-'));
  const db = join(dir, 'stock.db');
  try {
    const all: BenchSystem[] = [netlabDynamic(db), fastapi(db, 'sync'), fastapi(db, 'async')];
    const wanted = values.systems?.split(',');
    const systems = wanted === undefined ? all : all.filter((s) => wanted.includes(s.name));
    // netlab-dynamic first: it creates and seeds the file the others read.
    await checkSameAnswers(systems);

    const names = new Map<string, string>();
    const started = systems.map((s) => ({
      name: s.name,
      async start() {
        const r = await s.start();
        names.set(r.url, s.name);
        return r;
      },
    }));
    const systemOf = (s: RunningSystem): string => names.get(s.url) ?? '';
    const tests: BenchTest[] = [
      wrkTest('GET /index.html (first page)', '/index.html', systemOf),
      wrkTest('GET /api/stocks?limit=50', '/api/stocks?limit=50', systemOf),
    ];
    if (values.lesson === true) {
      tests.push(
        wrkTest(
          'lesson: 100 ms blocking',
          {
            'netlab-dynamic': '/api/slow/blocking?ms=100',
            fastapi: '/api/slow/blocking?ms=100',
          },
          systemOf,
        ),
        wrkTest(
          'lesson: 100 ms in a thread pool (def)',
          { fastapi: '/api/slow/sync?ms=100' },
          systemOf,
        ),
        wrkTest(
          'lesson: 100 ms awaited',
          { 'netlab-dynamic': '/api/slow/async?ms=100', fastapi: '/api/slow/async?ms=100' },
          systemOf,
        ),
      );
    }
    const measurements = (await runMatrix({ systems: started, tests, reps })).filter(
      (m) => m.metrics.requestsPerSec !== undefined,
    );
    // CPU time per request does not depend on the share of a contended core a server got (a
    // single-threaded one gets less than a thread pool when other work runs on its core).
    for (const m of measurements) {
      const { requestsPerSec: rps, serverCpuPercent: cpu } = m.metrics;
      if (rps !== undefined && rps > 0 && cpu !== undefined) {
        m.metrics.cpuUsPerRequest = (cpu / 100 / rps) * 1e6;
      }
    }
    const rows = summarize(measurements, { primary: 'requestsPerSec', reference: 'fastapi' });
    writeReport({
      name: 'dynamic',
      title: 'The stock app: netlab dynamic (Express 5) against FastAPI on uvicorn',
      measurements,
      rows,
      reference: 'fastapi',
      columns: [...HTTP_COLUMNS, { metric: 'cpuUsPerRequest', heading: 'server CPU µs/req' }],
      notes: [
        ...machineNotes(),
        `duration ${durationS}s per measurement, ${reps} repetitions; ratio = req/s against fastapi (def endpoints, thread pool)`,
        `netlab-dynamic ${dynamicVersion()} (LOG_LEVEL=warn); peers: ${peerVersions()}; uvicorn --loop uvloop --http httptools --no-access-log, one worker; all on one SQLite file (WAL)`,
        'same answers checked before measuring: identical /api/stocks?limit=50 JSON, identical /index.html but for CSRF tokens and the instance name (FastAPI renders services/dynamic/templates with Jinja2); no response caching on either side',
        ...targetNotes(rows),
      ],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function targetNotes(rows: readonly SummaryRow[]): string[] {
  const median = (test: string, system: string, metric: string): number | undefined =>
    rows.find((r) => r.test === test && r.system === system)?.medians[metric];
  return ['GET /index.html (first page)', 'GET /api/stocks?limit=50'].flatMap((test) => {
    const ours = median(test, 'netlab-dynamic', 'requestsPerSec');
    const theirs = median(test, 'fastapi', 'requestsPerSec');
    if (ours === undefined || theirs === undefined || theirs === 0)
      return [`target ${test}: ≥ 2× fastapi: not measured`];
    const r = ours / theirs;
    const lines = [`target ${test}: ≥ 2× fastapi: ${r.toFixed(2)}× ${r >= 2 ? 'met' : 'NOT met'}`];
    const ourCpu = median(test, 'netlab-dynamic', 'cpuUsPerRequest');
    for (const peer of ['fastapi', 'fastapi-async']) {
      const theirCpu = median(test, peer, 'cpuUsPerRequest');
      if (ourCpu !== undefined && theirCpu !== undefined && ourCpu > 0) {
        lines.push(
          `${test}: CPU per request ${ourCpu.toFixed(0)} µs against ${peer}'s ${theirCpu.toFixed(0)} µs: ${(theirCpu / ourCpu).toFixed(2)}×`,
        );
      }
    }
    return lines;
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
