import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import {
  CORES,
  freePort,
  labEnv,
  NGINX_BIN,
  pythonVenv,
  repoRoot,
  spawnPinned,
  stopChild,
  waitForHttp,
  waitForTcp,
  writeNginxConf,
} from '../lib/index.ts';
import type { BenchSystem, RunningSystem } from '../lib/index.ts';

/**
 * The systems of run.ts. Each "system" is what makes the fetches, pinned to the server core:
 * the fetcher (with its callers on the load core), or a client program that fetches itself
 * (undici, requests with threads, aiohttp). The upstream serving the 1 KiB resource is nginx
 * on the server core, shared alike.
 */

// From the working directory (make runs from the root): tsc sees load/ as CommonJS, where
// import.meta is refused, while Node runs these files as ES modules.
export const HERE = join(repoRoot(process.cwd()), 'load', 'bench', 'fetcher');
export const REPO = repoRoot(HERE);
export const VENV = join(HERE, '.peers', 'venv');
export const FETCHER_MAIN = join(REPO, 'services', 'fetcher', 'dist', 'main.js');
export const NODE_CLIENT = join(HERE, 'clients', 'node-client.ts');

/** The relays of servers/ (see `relay`), each started as `node <script> PORT`. */
export type RelayServer = 'bare-proxy.ts' | 'raw-relay.ts';
export const relayScript = (server: RelayServer): string => join(HERE, 'servers', server);

/** Pinned peers (BENCHMARKING.md), installed with pip into the benchmark's own virtualenv. */
export const PEERS: Readonly<Record<string, string>> = {
  requests: '2.32.3',
  aiohttp: '3.14.5',
};

const venv = pythonVenv(VENV, PEERS);

export function installPeers(say: (line: string) => void): void {
  venv.install(say);
}

export function peerVersions(): string {
  return venv.versions();
}

/** A process in the background of a run (the upstream, nats-server): started once, stopped last. */
export interface Background {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** nginx serving a 1 KiB text file: one worker, access log off, keep-alive without limit. */
export async function startUpstream(dir: string): Promise<Background> {
  const port = await freePort();
  const www = join(dir, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, '1k.txt'), 'x'.repeat(1023) + '\n');
  // nginx's workers run as nobody: the temp dir (0700) must let them in.
  chmodSync(dir, 0o755);
  chmodSync(www, 0o755);
  const conf = writeNginxConf(dir, port, [
    '  include /etc/nginx/mime.types;',
    `  server { listen 127.0.0.1:${port}; root ${www}; }`,
  ]);
  const child = spawnPinned(CORES.server, NGINX_BIN, [
    '-c',
    conf,
    '-e',
    join(dir, 'nginx-error.log'),
  ]);
  const url = `http://127.0.0.1:${port}/1k.txt`;
  await waitForHttp(url);
  const check = await fetch(url);
  if (check.status !== 200 || (await check.text()).length !== 1024) {
    await stopChild(child);
    throw new Error(`nginx answers ${check.status} for ${url}`);
  }
  return { url, pid: child.pid ?? 0, stop: () => stopChild(child) };
}

/** nats-server on the load core, with the callers that use it. */
export async function startNats(): Promise<Background> {
  const port = await freePort();
  const child = spawnPinned(CORES.load, 'nats-server', ['-a', '127.0.0.1', '-p', String(port)]);
  await waitForTcp('127.0.0.1', port);
  return { url: `nats://127.0.0.1:${port}`, pid: child.pid ?? 0, stop: () => stopChild(child) };
}

/** A running client agent (clients/*): send it a run, get its JSON line back. */
export interface Agent {
  child: ChildProcess;
  run(seconds: number, concurrency: number): Promise<AgentResult>;
  stop(): Promise<void>;
}

export interface AgentResult {
  requests: number;
  seconds: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  clientCpuPercent: number;
}

export async function startAgent(core: number, cmd: string, args: string[]): Promise<Agent> {
  const child = spawnPinned(core, cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Interface = createInterface({ input: child.stdout! });
  const waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  let exited: Error | undefined;
  lines.on('line', (line) => waiting.shift()?.resolve(line));
  child.once('exit', (code) => {
    exited = new Error(`${cmd} ${args.join(' ')} exited with ${code}`);
    for (const w of waiting.splice(0)) w.reject(exited);
  });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      if (exited !== undefined) reject(exited);
      else waiting.push({ resolve, reject });
    });
  const ready = await next();
  if (ready !== 'ready') throw new Error(`agent said ${ready}`);
  return {
    child,
    async run(seconds, concurrency) {
      const line = next();
      child.stdin!.write(`${JSON.stringify({ seconds, concurrency })}\n`);
      return JSON.parse(await line) as AgentResult;
    },
    async stop() {
      child.stdin!.end();
      await stopChild(child);
    },
  };
}

/**
 * A relay of servers/ on the server core, with the same callers as the fetcher over HTTP:
 * `bare-proxy.ts` (node:http + an undici Pool and nothing else: the floor of any fetch service
 * built on node:http) or `raw-relay.ts` (node:net + undici dispatch: the floor of any fetch
 * service over HTTP on undici).
 */
export function relay(name: string, server: RelayServer, upstream: () => string): BenchSystem {
  return {
    name,
    async start(): Promise<FetchSystem> {
      const port = await freePort();
      const child = spawnPinned(CORES.server, process.execPath, [
        relayScript(server),
        String(port),
      ]);
      const url = `http://127.0.0.1:${port}`;
      return withCallers(child, url, async () => {
        await waitForTcp('127.0.0.1', port);
        return startAgent(CORES.load, process.execPath, [
          NODE_CLIENT,
          'fetcher-http',
          url,
          upstream(),
        ]);
      });
    },
  };
}

export const bareProxy = (upstream: () => string): BenchSystem =>
  relay('bare node:http + undici', 'bare-proxy.ts', upstream);

export const rawRelay = (upstream: () => string): BenchSystem =>
  relay('raw node:net + undici', 'raw-relay.ts', upstream);

/**
 * A server started on the server core, measured through its callers (`callers` starts them on
 * the load core once the server answers); the server is killed if they never start.
 */
async function withCallers(
  server: ChildProcess,
  url: string,
  callers: () => Promise<Agent>,
): Promise<FetchSystem> {
  try {
    const agent = await callers();
    return {
      pid: server.pid ?? 0,
      url,
      agent,
      async stop() {
        await agent.stop();
        await stopChild(server);
      },
    };
  } catch (err) {
    server.kill('SIGKILL');
    throw err;
  }
}

/** A system the benchmark measures by asking an agent to fetch for a while. */
export interface FetchSystem extends RunningSystem {
  agent: Agent;
}

function agentSystem(name: string, core: number, cmd: string, args: () => string[]): BenchSystem {
  return {
    name,
    async start(): Promise<FetchSystem> {
      const agent = await startAgent(core, cmd, args());
      return { pid: agent.child.pid ?? 0, url: name, agent, stop: () => agent.stop() };
    },
  };
}

/** undici's Pool in a process of its own, fetching the upstream: the floor of any overhead. */
export const undiciDirect = (upstream: () => string): BenchSystem =>
  agentSystem('undici direct', CORES.server, process.execPath, () => [
    NODE_CLIENT,
    'direct',
    '-',
    upstream(),
  ]);

/** requests with one Session per thread in a ThreadPoolExecutor, as the lesson teaches. */
export const requestsThreads = (upstream: () => string): BenchSystem =>
  agentSystem('requests + threads', CORES.server, venv.python, () => [
    join(HERE, 'clients', 'requests_client.py'),
    upstream(),
  ]);

/** aiohttp on asyncio: the source material's recommendation for concurrency. */
export const aiohttpAsync = (upstream: () => string): BenchSystem =>
  agentSystem('aiohttp', CORES.server, venv.python, () => [
    join(HERE, 'clients', 'aiohttp_client.py'),
    upstream(),
  ]);

/**
 * The fetcher from its build on the server core, request logs off, its callers (an undici Pool
 * posting envelopes, or a NATS client) on the load core. The sampled pid is the fetcher's.
 */
export function fetcher(
  name: string,
  via: 'http' | 'nats',
  upstream: () => string,
  nats: () => string | undefined,
): BenchSystem {
  return {
    name,
    async start(): Promise<FetchSystem> {
      const port = await freePort();
      const up = new URL(upstream());
      const natsUrl = via === 'nats' ? nats() : undefined;
      const child = spawnPinned(CORES.server, process.execPath, [FETCHER_MAIN], {
        env: {
          ...process.env,
          HOST: '127.0.0.1',
          PORT: String(port),
          LOG_LEVEL: 'warn',
          ...labEnv('fetcher'),
          FETCH_ALLOW: `127.0.0.1:${up.port}`,
          NATS_URL: natsUrl ?? '',
        },
      });
      const url = `http://127.0.0.1:${port}`;
      return withCallers(child, url, async () => {
        await waitForHttp(`${url}/readyz`);
        const target = via === 'http' ? url : natsUrl!;
        const agent = await startAgent(CORES.load, process.execPath, [
          NODE_CLIENT,
          `fetcher-${via}`,
          target,
          upstream(),
        ]);
        if (via === 'nats') {
          // joinNats runs after listen: wait until the endpoint answers.
          for (let i = 0; (await agent.run(0.2, 1)).requests === 0; i++) {
            if (i > 50) throw new Error('the fetcher never answered over NATS');
          }
        }
        return agent;
      });
    },
  };
}
