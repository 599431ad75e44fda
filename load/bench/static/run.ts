/**
 * netlab-static against nginx, python's http.server, express.static and @fastify/send, on the
 * same files in one run (../../../../shared/BENCHMARKING.md):
 *
 *   node load/bench/static/run.ts [--duration 10] [--reps 3] [--systems nginx,netlab-static]
 *
 * Tests: a 2 KiB index.html and a 1 MiB file with wrk -t2 -c64 (req/s, p50, p99), and a 100 MiB
 * download with curl -o /dev/null (MB/s). Targets (issue "static"): ≥ 0.5× nginx on 2 KiB,
 * ≥ 0.7× on 1 MiB, ≥ 0.8× on 100 MiB, ahead of express.static on all three.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CORES,
  HTTP_COLUMNS,
  machineNotes,
  runMatrix,
  spawnPinned,
  summarize,
  writeReport,
  wrkTest,
} from '../lib/index.ts';
import type { BenchSystem, BenchTest, RunningSystem, SummaryRow } from '../lib/index.ts';
import {
  expressStatic,
  fastifySend,
  FILES,
  installPeers,
  makeSite,
  netlabStatic,
  nginx,
  PEERS,
  pythonHttpServer,
  sha256Of,
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

/** One curl download, pinned to the load core: bytes and seconds. */
function curlOnce(url: string): Promise<{ bytes: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawnPinned(
      CORES.load,
      'curl',
      ['-s', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', url],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.once('error', reject);
    child.once('exit', (code) => {
      const [bytes, seconds] = out.trim().split(' ').map(Number);
      if (code !== 0 || bytes === undefined || seconds === undefined)
        reject(new Error(`curl ${url}: ${code} ${out}`));
      else resolve({ bytes, seconds });
    });
  });
}

/** Downloads back to back for about half the duration (at least 3): total bytes / total time. */
function downloadTest(name: string, path: string): BenchTest {
  const measure = async (s: RunningSystem, seconds: number) => {
    let bytes = 0;
    let time = 0;
    let n = 0;
    while (n < 3 || (time < seconds / 2 && n < 50)) {
      const r = await curlOnce(`${s.url}${path}`);
      bytes += r.bytes;
      time += r.seconds;
      n += 1;
    }
    return { MBps: bytes / time / 1e6, downloads: n };
  };
  return { name, measure: (s) => measure(s, durationS), warmup: (s) => measure(s, 1) };
}

async function main(): Promise<void> {
  installPeers(say);
  const dir = mkdtempSync(join(tmpdir(), 'netlab-bench-static-'));
  // nginx started as root serves as `nobody`, which must be able to enter mkdtemp's 0700 folder.
  chmodSync(dir, 0o755);
  try {
    say(`writing the site into ${dir}`);
    const site = makeSite(dir);
    const www = site.www as string;
    const all: BenchSystem[] = [
      nginx(dir, www),
      netlabStatic(www),
      expressStatic(www),
      fastifySend(www),
      pythonHttpServer(www),
    ];
    const wanted = values.systems?.split(',');
    const systems = wanted === undefined ? all : all.filter((s) => wanted.includes(s.name));

    // Every system must serve the same bytes, or its numbers mean nothing.
    for (const system of systems) {
      const running = await system.start();
      try {
        for (const path of Object.values(FILES)) {
          if ((await sha256Of(`${running.url}${path}`)) !== site[path]) {
            throw new Error(`${system.name} served different bytes for ${path}`);
          }
        }
      } finally {
        await running.stop();
      }
    }

    const tests = [
      wrkTest('2 KiB index.html, 64 conns', FILES.small, { durationS }),
      wrkTest('1 MiB file, 64 conns', FILES.medium, { durationS }),
      downloadTest('100 MiB download', FILES.large),
    ];
    const measurements = await runMatrix({ systems, tests, reps });
    const rows = summarize(measurements, { primary: 'MBps', reference: 'nginx' });
    writeReport({
      name: 'static',
      title: 'Static files: netlab-static against nginx and peers',
      measurements,
      rows,
      reference: 'nginx',
      columns: HTTP_COLUMNS,
      notes: [
        ...machineNotes(),
        `duration ${durationS}s per measurement, ${reps} repetitions; ratio = MB/s against nginx (req/s for fixed-size files)`,
        `peers: nginx ${nginxVersion()}, python http.server ${pythonVersion()}, ${Object.entries(
          PEERS,
        )
          .map(([n, v]) => `${n} ${v}`)
          .join(', ')}; netlab-static with STATIC_ACCESS_LOG=false (nginx: access_log off)`,
        ...targetNotes(rows),
      ],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function ratio(
  rows: readonly SummaryRow[],
  test: string,
  a: string,
  b: string,
): number | undefined {
  const x = rows.find((r) => r.test === test && r.system === a)?.medians.MBps;
  const y = rows.find((r) => r.test === test && r.system === b)?.medians.MBps;
  return x === undefined || y === undefined || y === 0 ? undefined : x / y;
}

/** The issue's targets, each with the measured ratio and whether it was met. */
function targetNotes(rows: readonly SummaryRow[]): string[] {
  const targets: [string, string, number][] = [
    ['2 KiB index.html, 64 conns', 'nginx', 0.5],
    ['1 MiB file, 64 conns', 'nginx', 0.7],
    ['100 MiB download', 'nginx', 0.8],
    ['2 KiB index.html, 64 conns', 'express.static', 1],
    ['1 MiB file, 64 conns', 'express.static', 1],
    ['100 MiB download', 'express.static', 1],
  ];
  return targets.map(([test, peer, want]) => {
    const r = ratio(rows, test, 'netlab-static', peer);
    if (r === undefined) return `target ${test}: ≥ ${want}× ${peer}: not measured`;
    return `target ${test}: ≥ ${want}× ${peer}: ${r.toFixed(2)}× ${r >= want ? 'met' : 'NOT met'}`;
  });
}

function nginxVersion(): string {
  return versionOf('/usr/sbin/nginx', ['-v']).replace(/^nginx version: /, '');
}

function pythonVersion(): string {
  return versionOf('python3', ['--version']).replace(/^Python /, '');
}

function versionOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.error === undefined ? `${r.stdout}${r.stderr}`.trim() : 'unknown';
}

main().catch((err: unknown) => {
  say(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
