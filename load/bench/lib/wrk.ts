import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORES, spawnPinned } from './pinning.ts';
import { sampleProcesses } from './proc-sampler.ts';

/** What one wrk run measured. Latencies in milliseconds. */
export interface WrkResult {
  requestsPerSec: number;
  bytesPerSec: number;
  requests: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Socket errors plus HTTP statuses above 399 plus timeouts. */
  errors: number;
  /** CPU of wrk itself, percent of one core: near 100 means the result is a lower bound. */
  loadCpuPercent: number;
}

export interface WrkOptions {
  url: string;
  connections: number;
  threads?: number;
  durationS: number;
  /** Per-request timeout, seconds. */
  timeoutS?: number;
  headers?: Readonly<Record<string, string>>;
  core?: number;
}

const MARKER = '@@wrk-json@@';

/** wrk's Lua `done` hook prints one JSON line: exact numbers instead of parsing its text table. */
const DONE_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${MARKER}{"duration_us":%d,"requests":%d,"bytes":%d,"errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

interface DoneLine {
  duration_us: number;
  requests: number;
  bytes: number;
  errors: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
}

/** Reads the JSON line of the done hook out of wrk's output. */
export function parseWrkOutput(output: string, loadCpuPercent: number): WrkResult {
  const line = output.split('\n').find((l) => l.startsWith(MARKER));
  if (line === undefined) throw new Error(`wrk printed no summary:\n${output}`);
  const d = JSON.parse(line.slice(MARKER.length)) as DoneLine;
  const seconds = d.duration_us / 1e6;
  return {
    requestsPerSec: d.requests / seconds,
    bytesPerSec: d.bytes / seconds,
    requests: d.requests,
    p50Ms: d.p50_us / 1000,
    p90Ms: d.p90_us / 1000,
    p99Ms: d.p99_us / 1000,
    maxMs: d.max_us / 1000,
    errors: d.errors,
    loadCpuPercent,
  };
}

/** Runs wrk pinned to the load core (default 2 threads, as BENCHMARKING.md's `-t2 -c64`). */
export async function runWrk(opts: WrkOptions): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'netlab-wrk-'));
  const script = join(dir, 'done.lua');
  writeFileSync(script, DONE_SCRIPT);
  const args = [
    `-t${opts.threads ?? 2}`,
    `-c${opts.connections}`,
    `-d${opts.durationS}s`,
    `--timeout`,
    `${opts.timeoutS ?? 10}s`,
    '-s',
    script,
    ...Object.entries(opts.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    opts.url,
  ];
  try {
    const child = spawnPinned(opts.core ?? CORES.load, 'wrk', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const sampler = child.pid === undefined ? undefined : sampleProcesses([child.pid]);
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (out += c));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    const load = sampler?.stop().cpuPercent ?? 0;
    if (code !== 0) throw new Error(`wrk exited with ${code}:\n${out}`);
    return parseWrkOutput(out, load);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
