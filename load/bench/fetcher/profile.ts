/**
 * Where a fetch's CPU goes: runs the fetcher under `node --cpu-prof` with the benchmark's load
 * (1 KiB from nginx, 64 callers over HTTP or NATS) and prints the functions with the most
 * inclusive and self time, and the self time per source file. Not a benchmark: the profiler
 * itself costs time.
 *
 *   node load/bench/fetcher/profile.ts [--via http|nats] [--duration 5] [--top 40] [--keep] [--log-level warn|info]
 *
 * `--cpu-per-fetch N` instead runs N interleaved rounds of the fetcher and another system
 * without the profiler and prints the CPU time each spends per fetch (from /proc): a figure that
 * holds up on a busy machine far better than fetches/s, for comparing a change before and after.
 * `--against bare` (the default) is the bare node:http relay (servers/bare-proxy.ts), `--against
 * raw` the relay on node:net and undici dispatch (servers/raw-relay.ts);
 * `--against node-http` the fetcher with FETCH_FAST_PATH=false, `--against pretenuring` the fetcher
 * with V8's allocation-site pretenuring left on. `--log-level` is the fetchers'
 * LOG_LEVEL (default warn, as the benchmark; `info` writes a request line per fetch, as
 * `netlab up` runs it).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CORES,
  freePort,
  labEnv,
  sampleProcesses,
  spawnPinned,
  stopChild,
  waitForHttp,
  waitForTcp,
} from '../lib/index.ts';
import {
  FETCHER_MAIN,
  NODE_CLIENT,
  relayScript,
  REPO,
  startAgent,
  startNats,
  startUpstream,
  type RelayServer,
} from './systems.ts';

const { values } = parseArgs({
  options: {
    via: { type: 'string', default: 'http' },
    duration: { type: 'string', default: '5' },
    top: { type: 'string', default: '40' },
    keep: { type: 'boolean', default: false },
    'cpu-per-fetch': { type: 'string' },
    against: { type: 'string', default: 'bare' },
    'log-level': { type: 'string', default: 'warn' },
  },
});
const logLevel = values['log-level'];
const via = values.via === 'nats' ? 'nats' : 'http';
const say = (line: string): void => void process.stdout.write(`${line}\n`);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function shortUrl(url: string): string {
  const i = url.indexOf('/node_modules/');
  if (i !== -1) return url.slice(i + '/node_modules/'.length);
  const j = url.indexOf('/services/');
  if (j !== -1) return url.slice(j + 1);
  return url.replace(/^file:\/\//, '') || '(native)';
}

function report(profile: Profile, top: number): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const file = shortUrl(f.url);
    const name = `${f.functionName || '(anonymous)'}  ${file}:${f.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  // Inclusive time of every function (each counted once per sample, recursion or not).
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  const idle = byFunction.get('(idle)  (native):0') ?? 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const f = byId.get(n)!.callFrame;
      if (f.functionName === '(root)') continue;
      const name = `${f.functionName || '(anonymous)'}  ${shortUrl(f.url)}:${f.lineNumber + 1}`;
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + dt);
    }
  });
  const busy = total - idle;
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)} %`;
  say(
    `sampled ${(total / 1e6).toFixed(2)} s, busy ${(busy / 1e6).toFixed(2)} s; percentages of busy time`,
  );
  say('\ninclusive time by function:');
  for (const [name, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top))
    say(`${pct(us)}  ${name}`);
  say('\nself time by function:');
  for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
    say(`${pct(us)}  ${name}`);
  say('\nself time by file:');
  for (const [file, us] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top))
    say(`${pct(us)}  ${file}`);
}

const relayServer = (server: RelayServer) => ({
  args: (port: number) => [relayScript(server), String(port)],
  env: {},
});
/** What `--cpu-per-fetch` compares the fetcher with (`--against`). */
const AGAINST: Record<string, { args: (port: number) => string[]; env: Record<string, string> }> = {
  bare: relayServer('bare-proxy.ts'),
  raw: relayServer('raw-relay.ts'),
  'node-http': { args: () => [FETCHER_MAIN], env: { FETCH_FAST_PATH: 'false' } },
  pretenuring: { args: () => ['--allocation-site-pretenuring', FETCHER_MAIN], env: {} },
};

/** Median of CPU µs per fetch of the fetcher and of `--against`, over interleaved rounds. */
async function cpuPerFetch(rounds: number, upstream: string): Promise<void> {
  const seconds = Number(values.duration);
  const against = AGAINST[values.against];
  if (against === undefined)
    throw new Error(`--against ${values.against}: one of ${Object.keys(AGAINST).join(', ')}`);
  const start = async (which: string) => {
    const port = await freePort();
    const { args, env } = which === 'fetcher' ? { args: () => [FETCHER_MAIN], env: {} } : against;
    const child = spawnPinned(CORES.server, process.execPath, args(port), {
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: logLevel,
        ...labEnv('fetcher'),
        ...env,
        FETCH_ALLOW: `127.0.0.1:${new URL(upstream).port}`,
        NATS_URL: '',
      },
    });
    await waitForTcp('127.0.0.1', port);
    const agent = await startAgent(CORES.load, process.execPath, [
      NODE_CLIENT,
      'fetcher-http',
      `http://127.0.0.1:${port}`,
      upstream,
    ]);
    await agent.run(1, 64);
    return { which, child, agent };
  };
  const systems = [await start('fetcher'), await start(values.against)];
  const results = new Map<string, { us: number; rate: number }[]>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const s of systems) {
        const sampler = sampleProcesses([s.child.pid!]);
        const r = await s.agent.run(seconds, 64);
        const { cpuPercent } = sampler.stop();
        const rate = r.requests / r.seconds;
        const us = ((cpuPercent / 100) * 1e6) / rate;
        say(
          `${s.which}: ${rate.toFixed(0)} fetches/s, ${cpuPercent.toFixed(0)} % CPU, ${us.toFixed(1)} µs/fetch`,
        );
        results.set(s.which, [...(results.get(s.which) ?? []), { us, rate }]);
      }
    }
  } finally {
    for (const s of systems) {
      await s.agent.stop();
      await stopChild(s.child);
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [which, rs] of results)
    say(
      `median ${which}: ${median(rs.map((r) => r.us)).toFixed(1)} µs/fetch, ${median(rs.map((r) => r.rate)).toFixed(0)} fetches/s`,
    );
}

async function main(): Promise<void> {
  execFileSync(
    process.execPath,
    [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'services/fetcher'],
    { cwd: REPO, stdio: 'inherit' },
  );
  const dir = mkdtempSync(join(tmpdir(), 'netlab-profile-fetcher-'));
  const upstream = await startUpstream(dir);
  if (values['cpu-per-fetch'] !== undefined) {
    try {
      await cpuPerFetch(Number(values['cpu-per-fetch']), upstream.url);
    } finally {
      await upstream.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    return;
  }
  const nats = via === 'nats' ? await startNats() : undefined;
  const port = await freePort();
  const profDir = join(dir, 'prof');
  const child = spawnPinned(
    CORES.server,
    process.execPath,
    ['--cpu-prof', '--cpu-prof-dir', profDir, FETCHER_MAIN],
    {
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: logLevel,
        ...labEnv('fetcher'),
        FETCH_ALLOW: `127.0.0.1:${new URL(upstream.url).port}`,
        NATS_URL: nats?.url ?? '',
      },
    },
  );
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/readyz`);
    const agent = await startAgent(CORES.load, process.execPath, [
      NODE_CLIENT,
      `fetcher-${via}`,
      via === 'http' ? url : nats!.url,
      upstream.url,
    ]);
    for (let i = 0; via === 'nats' && (await agent.run(0.2, 1)).requests === 0; i++) {
      if (i > 50) throw new Error('the fetcher never answered over NATS');
    }
    await agent.run(1, 64);
    const r = await agent.run(Number(values.duration), 64);
    say(`${(r.requests / r.seconds).toFixed(0)} fetches/s under the profiler, ${r.errors} errors`);
    await agent.stop();
    // SIGTERM: the lifecycle exits 0 and Node writes the profile.
    await stopChild(child);
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error('no profile was written');
    report(JSON.parse(readFileSync(join(profDir, file), 'utf8')) as Profile, Number(values.top));
    if (values.keep) say(`\nprofile: ${join(profDir, file)}`);
  } finally {
    child.kill('SIGKILL');
    await nats?.stop();
    await upstream.stop();
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
