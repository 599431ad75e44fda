/**
 * A closed-loop client agent for load/bench/fetcher: `node node-client.ts MODE TARGET UPSTREAM`,
 * MODE `direct` (GET UPSTREAM with an undici Pool: the floor of the fetcher's overhead),
 * `fetcher-http` (POST TARGET/fetch with the envelope) or `fetcher-nats` (a request on
 * netlab.fetcher.fetch through the nats-server at TARGET). It prints `ready`, then for every
 * line `{"seconds":S,"concurrency":C}` on stdin runs C callers, each sending its next request as
 * soon as the previous answered, for S seconds, and prints one JSON line of results.
 */
import { createInterface } from 'node:readline';
import { connect } from '@nats-io/transport-node';
import { Pool } from 'undici';

const [mode, target, upstream] = process.argv.slice(2) as [string, string, string];
const envelope = JSON.stringify({ url: upstream });
const encoder = new TextEncoder();
const payload = encoder.encode(envelope);

/**
 * How long a caller waits for an answer before counting an error: a system that stops answering
 * ends its run (deadline + this) instead of hanging the benchmark.
 */
const ANSWER_TIMEOUT_MS = 10_000;
const POOL = {
  connections: 256,
  pipelining: 1,
  headersTimeout: ANSWER_TIMEOUT_MS,
  bodyTimeout: ANSWER_TIMEOUT_MS,
};

/** True for a good answer; anything else is an error, described by `lastError`. */
type Call = () => Promise<boolean>;
let lastError = '';

async function caller(): Promise<{ call: Call; close: () => Promise<void> }> {
  if (mode === 'direct') {
    const u = new URL(upstream);
    const pool = new Pool(u.origin, POOL);
    const path = u.pathname + u.search;
    return {
      call: async () => {
        const res = await pool.request({ path, method: 'GET' });
        await res.body.arrayBuffer();
        return res.statusCode === 200;
      },
      close: () => pool.close(),
    };
  }
  if (mode === 'fetcher-http') {
    const pool = new Pool(target, POOL);
    return {
      call: async () => {
        const res = await pool.request({
          path: '/fetch',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: envelope,
        });
        const reply = (await res.body.json()) as { status?: number; code?: string };
        if (res.statusCode !== 200 || reply.status !== 200)
          lastError = reply.code ?? `status ${reply.status}`;
        return res.statusCode === 200 && reply.status === 200;
      },
      close: () => pool.close(),
    };
  }
  if (mode === 'fetcher-nats') {
    const nc = await connect({ servers: target });
    return {
      call: async () => {
        const msg = await nc.request('netlab.fetcher.fetch', payload, {
          timeout: ANSWER_TIMEOUT_MS,
        });
        const reply = msg.json<{ status?: number; error?: { code: string } }>();
        if (reply.status !== 200) lastError = reply.error?.code ?? `status ${reply.status}`;
        return reply.status === 200;
      },
      close: () => nc.close(),
    };
  }
  throw new Error(`unknown mode ${mode}`);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(c: { call: Call }, seconds: number, concurrency: number): Promise<string> {
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        try {
          if (await c.call()) latencies.push(performance.now() - t);
          else errors += 1;
        } catch (err) {
          lastError = (err as Error).message;
          errors += 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  return JSON.stringify({
    requests: latencies.length,
    seconds: elapsed,
    errors,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    clientCpuPercent: ((cpu.user + cpu.system) / 1e6 / elapsed) * 100,
    lastError,
  });
}

async function main(): Promise<void> {
  const c = await caller();
  process.stdout.write('ready\n');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    const { seconds, concurrency } = JSON.parse(line) as { seconds: number; concurrency: number };
    process.stdout.write(`${await run(c, seconds, concurrency)}\n`);
  }
  await c.close();
}

void main();
