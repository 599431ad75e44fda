/**
 * The fetcher against direct undici, Python requests with threads and aiohttp, in one run
 * (../../../../shared/BENCHMARKING.md):
 *
 *   node load/bench/fetcher/run.ts [--duration 10] [--reps 3] [--concurrency 64] [--systems a,b]
 *
 * One test: fetches per second of a 1 KiB resource (nginx, on the server core) with 64
 * concurrent callers, each sending its next fetch as soon as the previous one answered.
 * Targets (issue "fetcher"): the fetcher over HTTP ≥ 0.5× direct undici and ≥ 2× aiohttp.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  describeEnv,
  labEnv,
  machineNotes,
  runMatrix,
  summarize,
  writeReport,
} from '../lib/index.ts';
import type { BenchSystem, BenchTest, RunningSystem } from '../lib/index.ts';
import {
  aiohttpAsync,
  bareProxy,
  fetcher,
  installPeers,
  peerVersions,
  rawRelay,
  REPO,
  requestsThreads,
  startNats,
  startUpstream,
  undiciDirect,
  type Background,
  type FetchSystem,
} from './systems.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    reps: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '64' },
    systems: { type: 'string' },
  },
});
const durationS = Number(values.duration);
const reps = Number(values.reps);
const concurrency = Number(values.concurrency);
const say = (line: string): void => void process.stderr.write(`${line}\n`);

const REFERENCE = 'undici direct';

async function main(): Promise<void> {
  installPeers(say);
  execFileSync(
    process.execPath,
    [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'services/fetcher'],
    {
      cwd: REPO,
      stdio: 'inherit',
    },
  );
  const dir = mkdtempSync(join(tmpdir(), 'netlab-bench-fetcher-'));
  let upstream: Background | undefined;
  let nats: Background | undefined;
  try {
    upstream = await startUpstream(dir);
    nats = await startNats();
    const up = () => upstream!.url;
    const all: BenchSystem[] = [
      fetcher('fetcher over HTTP', 'http', up, () => nats?.url),
      fetcher('fetcher over NATS', 'nats', up, () => nats?.url),
      undiciDirect(up),
      bareProxy(up),
      rawRelay(up),
      requestsThreads(up),
      aiohttpAsync(up),
    ];
    const wanted = values.systems?.split(',');
    const systems = wanted === undefined ? all : all.filter((s) => wanted.includes(s.name));

    const measure = async (s: RunningSystem, seconds: number): Promise<Record<string, number>> => {
      const r = await (s as FetchSystem).agent.run(seconds, concurrency);
      return {
        fetchesPerSec: r.requests / r.seconds,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        errors: r.errors,
        callerCpuPercent: r.clientCpuPercent,
      };
    };
    const tests: BenchTest[] = [
      {
        name: `1 KiB, ${concurrency} callers`,
        measure: (s) => measure(s, durationS),
        warmup: (s) => measure(s, Math.min(2, durationS)),
      },
    ];
    const measurements = await runMatrix({ systems, tests, reps });
    const rows = summarize(measurements, { primary: 'fetchesPerSec', reference: REFERENCE });
    const rate = (name: string) => rows.find((r) => r.system === name)?.medians.fetchesPerSec;
    const ratio = (a: string, b: string): string => {
      const [x, y] = [rate(a), rate(b)];
      return x === undefined || y === undefined ? 'n/a' : `${(x / y).toFixed(2)}×`;
    };
    const vs = (name: string): string => ratio('fetcher over HTTP', name);
    writeReport({
      name: 'fetcher',
      title: `fetcher: fetches/s of a 1 KiB resource, ${concurrency} concurrent callers`,
      measurements,
      rows,
      reference: REFERENCE,
      columns: [
        { metric: 'fetchesPerSec', heading: 'fetches/s', digits: 0 },
        { metric: 'p50Ms', heading: 'p50 ms', digits: 2 },
        { metric: 'p99Ms', heading: 'p99 ms', digits: 2 },
        { metric: 'errors', heading: 'errors', digits: 0 },
        { metric: 'serverCpuPercent', heading: 'CPU %', digits: 0 },
        { metric: 'serverRssMiB', heading: 'RSS MiB', digits: 1 },
        { metric: 'callerCpuPercent', heading: 'caller CPU %', digits: 0 },
      ],
      notes: [
        ...machineNotes(),
        `${durationS} s per measurement, ${reps} repetitions interleaved, medians; peers: ${peerVersions()}, undici (workspace).`,
        'Each system makes the fetches on the server core (CPU % and RSS are of that process); nginx serves the 1 KiB file on the same core.',
        "The fetcher's callers (an undici Pool posting envelopes, or a NATS client, with nats-server) run on the load core; caller CPU % is theirs. The relays have the same callers: 'bare node:http + undici' (servers/bare-proxy.ts) is the floor of a fetch service on node:http, 'raw node:net + undici' (servers/raw-relay.ts) the floor of any fetch service over HTTP on undici.",
        `The fetcher runs as netlab up runs it (${describeEnv(labEnv('fetcher'))}); the other Node systems with Node's defaults.`,
        `Targets: fetcher over HTTP ≥ 0.5× ${REFERENCE} (measured ${vs(REFERENCE)}), ≥ 2× aiohttp (measured ${vs('aiohttp')}); it runs at ${vs('bare node:http + undici')} the bare node:http floor and ${vs('raw node:net + undici')} the raw floor, which itself makes ${ratio('raw node:net + undici', 'aiohttp')} aiohttp's fetches/s.`,
      ],
    });
  } finally {
    await nats?.stop();
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
