/**
 * netlab tcp-echo against a bare `node:net` `socket.pipe(socket)` echo and the source material's
 * thread-per-connection Python echo, in one run (../../../../shared/BENCHMARKING.md):
 *
 *   node load/bench/tcp-echo/run.ts [--duration 10] [--reps 3] [--idle 10000] [--systems a,b]
 *
 * Tests: closed-loop 64-byte round trips at 1, 64 and 512 connections with the compiled Go
 * client (rtt-client/, built into .bin/tcp-rtt), and RSS per idle connection at 10,000 (each
 * repetition on freshly started servers, so that no run inherits memory a previous one freed).
 * Targets (issue "tcp-echo"): ≥ 0.9× the bare Node echo's round trips/s at every concurrency,
 * ≥ 1.3× the Python echo at 512 connections, ≤ 10 KiB RSS per idle connection at 10,000.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { machineNotes, rssBytes, runMatrix, summarize, writeReport } from '../lib/index.ts';
import type { BenchSystem, BenchTest, Measurement, SummaryRow } from '../lib/index.ts';
import { buildClient, holdIdle, REPO, runRtt, SYSTEMS } from './systems.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    reps: { type: 'string', default: '3' },
    idle: { type: 'string', default: '10000' },
    size: { type: 'string', default: '64' },
    systems: { type: 'string' },
  },
});
const durationS = Number(values.duration);
const reps = Number(values.reps);
const idleCount = Number(values.idle);
const size = Number(values.size);
const say = (line: string): void => void process.stderr.write(`${line}\n`);
const REFERENCE = 'node pipe';
const CONCURRENCIES = [1, 64, 512] as const;

if (!existsSync(join(REPO, 'services', 'tcp-echo', 'dist', 'main.js'))) {
  say('services/tcp-echo/dist/main.js is missing: run `make build` first');
  process.exit(1);
}
buildClient(say);

const all: BenchSystem[] = [
  SYSTEMS['tcp-echo'](idleCount + 1000),
  SYSTEMS['node pipe'](),
  SYSTEMS['python threads'](),
];
const wanted = values.systems?.split(',').map((s) => s.trim());
const systems = wanted === undefined ? all : all.filter((s) => wanted.includes(s.name));

const rttTests: BenchTest[] = CONCURRENCIES.map((connections) => {
  const measure = async (url: string, seconds: number) => {
    const r = await runRtt(url, connections, size, seconds);
    return {
      roundTripsPerSec: r.perSecond,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      errors: r.errors,
      loadCpuPercent: r.cpuPercent,
    };
  };
  return {
    name: `${size} B round trips, ${connections} conn${connections === 1 ? '' : 's'}`,
    measure: (s) => measure(s.url, durationS),
    warmup: (s) => measure(s.url, Math.min(2, durationS)),
  };
});

const idleTest: BenchTest = {
  name: `${idleCount.toLocaleString('en-US')} idle connections`,
  warmup: () => Promise.resolve(),
  async measure(s) {
    await sleep(500); // let start-up allocation settle before the baseline
    const before = rssBytes(s.pid);
    const held = await holdIdle(s.url, idleCount);
    await sleep(1000);
    const during = rssBytes(s.pid);
    await held.close();
    return {
      kibPerConnection: (during - before) / idleCount / 1024,
      rssIdleMiB: during / 2 ** 20,
      rssBaselineMiB: before / 2 ** 20,
    };
  },
};

async function main(): Promise<void> {
  say(`round trips: ${systems.map((s) => s.name).join(', ')}; ${reps} reps of ${durationS}s`);
  const measured = await runMatrix({ systems, tests: rttTests, reps });
  // Server CPU time per round trip: steadier than round trips/s on a shared machine, where the
  // server's core is not always its own (see README.md).
  const rtt = measured.map((m) => {
    const perSec = m.metrics.roundTripsPerSec ?? 0;
    const cpu = m.metrics.serverCpuPercent ?? 0;
    return {
      ...m,
      metrics: {
        ...m.metrics,
        serverUsPerRoundTrip: perSec > 0 ? (cpu / 100) * (1e6 / perSec) : 0,
      },
    };
  });

  // Fresh servers for every repetition of the idle test: RSS does not shrink after a run, so a
  // second run on the same process would reuse memory and look cheaper than it is.
  const idle: Measurement[] = [];
  for (let rep = 1; rep <= reps; rep += 1) {
    const ms = await runMatrix({ systems, tests: [idleTest], reps: 1 });
    idle.push(...ms.map((m) => ({ ...m, rep })));
  }

  const rttRows = summarize(rtt, { primary: 'roundTripsPerSec', reference: REFERENCE });
  const idleRows = summarize(idle, { primary: 'kibPerConnection', reference: REFERENCE });
  const costRows = summarize(rtt, { primary: 'serverUsPerRoundTrip', reference: REFERENCE });

  function row(rows: readonly SummaryRow[], test: string, system: string): SummaryRow | undefined {
    return rows.find((r) => r.test === test && r.system === system);
  }

  const verdict = (ok: boolean | undefined): string =>
    ok === undefined ? 'not measured' : ok ? 'met' : 'NOT met';
  const targets: string[] = [];
  for (const test of rttTests) {
    const ratio = row(rttRows, test.name, 'tcp-echo')?.ratio;
    targets.push(
      `target ${test.name}: tcp-echo ≥ 0.9× ${REFERENCE}: ${ratio === undefined ? '—' : `${ratio.toFixed(2)}×`}, ${verdict(ratio === undefined ? undefined : ratio >= 0.9)}`,
    );
  }
  for (const test of rttTests) {
    const cost = row(costRows, test.name, 'tcp-echo')?.ratio;
    if (cost !== undefined) {
      targets.push(
        `${test.name}: tcp-echo spends ${cost.toFixed(2)}× the server CPU time per round trip of ${REFERENCE}`,
      );
    }
  }
  const at512 = rttTests[2]!.name;
  const ours512 = row(rttRows, at512, 'tcp-echo')?.medians.roundTripsPerSec;
  const python512 = row(rttRows, at512, 'python threads')?.medians.roundTripsPerSec;
  const vsPython = ours512 !== undefined && python512 ? ours512 / python512 : undefined;
  targets.push(
    `target ${at512}: tcp-echo ≥ 1.3× python threads: ${vsPython === undefined ? '—' : `${vsPython.toFixed(2)}×`}, ${verdict(vsPython === undefined ? undefined : vsPython >= 1.3)}`,
  );
  const kib = row(idleRows, idleTest.name, 'tcp-echo')?.medians.kibPerConnection;
  targets.push(
    `target ${idleTest.name}: tcp-echo ≤ 10 KiB RSS per connection: ${kib === undefined ? '—' : `${kib.toFixed(1)} KiB`}, ${verdict(kib === undefined ? undefined : kib <= 10)}`,
  );

  const notes = [
    ...machineNotes(),
    `client: load/bench/tcp-echo/rtt-client (Go, closed loop: one ${size}-byte message in flight per connection), pinned to the load core; "client CPU" near 100% means the server figure is a lower bound`,
    `${reps} repetitions of ${durationS}s after a 2s warm-up; tcp-echo runs with its defaults (keep-alive, idle timeout, write deadline, TCP_NODELAY, metrics) and MAX_CONNECTIONS=${idleCount + 1000}`,
    ...targets,
  ];

  writeReport({
    name: 'tcp-echo-rtt',
    title: 'tcp-echo: closed-loop round trips',
    measurements: rtt,
    rows: rttRows,
    reference: REFERENCE,
    columns: [
      { metric: 'roundTripsPerSec', heading: 'round trips/s' },
      { metric: 'p50Ms', heading: 'p50 ms', digits: 3 },
      { metric: 'p99Ms', heading: 'p99 ms', digits: 3 },
      { metric: 'serverCpuPercent', heading: 'server CPU %' },
      { metric: 'serverUsPerRoundTrip', heading: 'server CPU µs/round trip', digits: 2 },
      { metric: 'loadCpuPercent', heading: 'client CPU %' },
      { metric: 'serverRssMiB', heading: 'server RSS MiB', digits: 1 },
      { metric: 'errors', heading: 'errors' },
    ],
    notes,
  });
  writeReport({
    name: 'tcp-echo-idle',
    title: 'tcp-echo: RSS per idle connection',
    measurements: idle,
    rows: idleRows,
    reference: REFERENCE,
    columns: [
      { metric: 'kibPerConnection', heading: 'KiB per connection', digits: 1 },
      { metric: 'rssBaselineMiB', heading: 'RSS before MiB', digits: 1 },
      { metric: 'rssIdleMiB', heading: 'RSS with idle conns MiB', digits: 1 },
    ],
    notes,
  });
}

main().catch((err: unknown) => {
  say(`tcp-echo benchmark failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
