/**
 * The netlab gateway against nginx `proxy_pass`, http-proxy and @fastify/reply-from, all in front
 * of the same upstream, in one run (../../../../shared/BENCHMARKING.md):
 *
 *   node load/bench/gateway/run.ts [--duration 10] [--reps 3] [--systems direct,netlab-gateway]
 *
 * The upstream is nginx serving a 1 KiB file, pinned to the server core together with the proxy
 * under test; wrk -t2 -c64 on the load core. "direct" is wrk against the upstream itself.
 * Targets (issue "gateway"): ≥ 2× the best Node peer's req/s, ≥ 0.5× nginx's, p99 ≤ 2× nginx's.
 * "ceiling: bare node:http relay" is no peer: a node:http server that only relays bytes, the upper
 * bound of any proxy built on node:http's server here (the note says where the gateway stands).
 */
import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  describeEnv,
  HTTP_COLUMNS,
  machineNotes,
  runMatrix,
  summarize,
  writeReport,
  wrkTest,
} from '../lib/index.ts';
import type { BenchSystem, RunningSystem, SummaryRow } from '../lib/index.ts';
import {
  CEILING,
  ceilingRelay,
  direct,
  httpProxy,
  installPeers,
  makeContent,
  netlabGateway,
  nginxProxy,
  GATEWAY_LAB_ENV,
  nginxVersion,
  PATH_1K,
  PEERS,
  replyFrom,
  sha256Of,
  startUpstream,
} from './systems.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    reps: { type: 'string', default: '3' },
    systems: { type: 'string' },
  },
});
const durationS = Number(values.duration);
const reps = Number(values.reps);
const say = (line: string): void => void process.stderr.write(`${line}\n`);

const TEST = '1 KiB response, 64 conns';
const NODE_PEERS = ['http-proxy', '@fastify/reply-from'];

function median(rows: readonly SummaryRow[], system: string, metric: string): number | undefined {
  return rows.find((r) => r.test === TEST && r.system === system)?.medians[metric];
}

/** The issue's three targets, each with the measured figure and whether it was met. */
function targetNotes(rows: readonly SummaryRow[]): string[] {
  const gw = median(rows, 'netlab-gateway', 'requestsPerSec');
  const ngx = median(rows, 'nginx proxy_pass', 'requestsPerSec');
  const bestPeer = Math.max(...NODE_PEERS.map((p) => median(rows, p, 'requestsPerSec') ?? 0));
  const gwP99 = median(rows, 'netlab-gateway', 'p99Ms');
  const ngxP99 = median(rows, 'nginx proxy_pass', 'p99Ms');
  if (gw === undefined || ngx === undefined || gwP99 === undefined || ngxP99 === undefined) {
    return ['targets: not evaluated (run every system)'];
  }
  const line = (what: string, value: number, target: number, unit: string, atLeast: boolean) =>
    `target ${what}: ${value.toFixed(2)}${unit} (target ${atLeast ? '≥' : '≤'} ${target}${unit}) — ${
      (atLeast ? value >= target : value <= target) ? 'met' : 'NOT met'
    }`;
  const ceiling = median(rows, CEILING, 'requestsPerSec');
  return [
    ...(ceiling === undefined
      ? []
      : [
          `netlab-gateway at ${(gw / ceiling).toFixed(2)}× the bare node:http relay (${Math.round(ceiling)} req/s): the ceiling on node:http here is ${(ceiling / ngx).toFixed(2)}× nginx and ${(ceiling / bestPeer).toFixed(2)}× the best Node peer`,
        ]),
    line('req/s vs best Node peer', gw / bestPeer, 2, '×', true),
    line('req/s vs nginx proxy_pass', gw / ngx, 0.5, '×', true),
    line('p99 vs nginx proxy_pass', gwP99 / ngxP99, 2, '×', false),
  ];
}

async function main(): Promise<void> {
  installPeers(say);
  const dir = mkdtempSync(join(tmpdir(), 'netlab-bench-gateway-'));
  // nginx started as root serves as `nobody`, which must be able to enter mkdtemp's 0700 folder.
  chmodSync(dir, 0o755);
  let upstream: RunningSystem | undefined;
  try {
    const content = makeContent(dir);
    upstream = await startUpstream(dir, content.www);
    say(`upstream (nginx, 1 KiB) at ${upstream.url}`);
    const all: BenchSystem[] = [
      direct(upstream),
      netlabGateway(dir, upstream.url),
      // The dashboard's per-request accounting is the difference between these two.
      netlabGateway(dir, upstream.url, 'netlab-gateway-no-dashboard', { DASHBOARD: 'false' }),
      // What the fast path brings: every request through node:http's request/response streams.
      netlabGateway(dir, upstream.url, 'netlab-gateway-node-http', { FAST_PATH: 'false' }),
      nginxProxy(dir, upstream.url),
      httpProxy(upstream.url),
      replyFrom(upstream.url),
      // How far any node:http proxy can go here: the gateway's own upper bound.
      ceilingRelay(upstream.url),
    ];
    const wanted = values.systems?.split(',');
    const systems = wanted === undefined ? all : all.filter((s) => wanted.includes(s.name));

    // Every system must pass the same bytes through, or its numbers mean nothing.
    for (const system of systems) {
      const running = await system.start();
      try {
        if ((await sha256Of(`${running.url}${PATH_1K}`)) !== content.sha256) {
          throw new Error(`${system.name} served different bytes`);
        }
      } finally {
        await running.stop();
      }
    }

    const measurements = await runMatrix({
      systems,
      tests: [wrkTest(TEST, PATH_1K, { durationS })],
      reps,
    });
    const rows = summarize(measurements, {
      primary: 'requestsPerSec',
      reference: 'nginx proxy_pass',
    });
    writeReport({
      name: 'gateway',
      title: 'Reverse proxy: the netlab gateway against nginx and Node peers',
      measurements,
      rows,
      reference: 'nginx proxy_pass',
      columns: HTTP_COLUMNS,
      notes: [
        ...machineNotes(),
        `duration ${durationS}s per measurement, ${reps} repetitions; ratio = req/s against nginx proxy_pass`,
        'upstream: nginx serving a 1 KiB file, pinned to the server core with the proxy; its CPU is not in the proxies\' CPU % ("direct" shows it alone)',
        `peers: ${nginxVersion()} (proxy_pass, upstream keepalive 128), ${Object.entries(PEERS)
          .map(([n, v]) => `${n} ${v}`)
          .join(
            ', ',
          )}; netlab-gateway as netlab up runs it (${describeEnv(GATEWAY_LAB_ENV)}) with the default routes, metrics, its access log on (to a file) and the dashboard's accounting on; the Node peers with Node's defaults; netlab-gateway-no-dashboard the same with DASHBOARD=false; netlab-gateway-node-http the same with FAST_PATH=false`,
        ...targetNotes(rows),
      ],
    });
  } finally {
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
