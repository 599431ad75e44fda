import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  installNpmPeers,
  NGINX_BIN,
  type PinnedCommand,
  pinnedSystem as pinnedProcess,
  repoRoot,
  waitForHttp,
  writeNginxConf,
} from '../lib/index.ts';
import { labEnv, type BenchSystem, type RunningSystem } from '../lib/index.ts';

/** The upstream, the systems run.ts compares in front of it, and the pinned peers. */

// From the working directory (make runs from the root): tsc sees load/ as CommonJS, where
// import.meta is refused, while Node runs these files as ES modules.
export const HERE = join(repoRoot(process.cwd()), 'load', 'bench', 'gateway');
export const REPO = repoRoot(HERE);
export const PEERS_DIR = join(HERE, '.peers');
const GATEWAY_MAIN = join(REPO, 'gateway', 'dist', 'main.js');
/** The environment `netlab up` gives the gateway beyond its ports (NODE_OPTIONS). */
export const GATEWAY_LAB_ENV = labEnv('gateway');

/** Pinned peers (BENCHMARKING.md): installed into .peers when missing or at another version. */
export const PEERS: Readonly<Record<string, string>> = {
  'http-proxy': '1.18.1',
  fastify: '5.12.8',
  '@fastify/reply-from': '12.6.5',
};

export function installPeers(say: (line: string) => void): void {
  installNpmPeers(PEERS_DIR, PEERS, say);
}

/** The one path every system is measured on: a 1 KiB response from the upstream. */
export const PATH_1K = '/1k.bin';

/**
 * A system on a free port, ready once it answers the 1 KiB path with 200: a proxy answers
 * before it knows its upstream is healthy (the gateway: 503).
 */
function pinnedSystem(name: string, command: (port: number) => PinnedCommand): BenchSystem {
  return pinnedProcess(name, command, {
    ready: async (port) => {
      await waitForHttp(`http://127.0.0.1:${port}${PATH_1K}`);
      await waitFor200(`http://127.0.0.1:${port}${PATH_1K}`);
    },
  });
}

async function waitFor200(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(url);
    await res.arrayBuffer();
    if (res.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered 200`);
}

/** Writes the 1 KiB body the upstream serves; returns its hash. */
export function makeContent(dir: string): { www: string; sha256: string } {
  const www = join(dir, 'www');
  mkdirSync(www, { recursive: true });
  const body = randomBytes(1024);
  writeFileSync(join(www, PATH_1K.slice(1)), body);
  return { www, sha256: createHash('sha256').update(body).digest('hex') };
}

/**
 * The upstream every system forwards to: nginx serving the 1 KiB file (and 200 on the readiness
 * paths the gateway probes), pinned to the server core like the proxies in front of it.
 */
export async function startUpstream(dir: string, www: string): Promise<RunningSystem> {
  return pinnedSystem('upstream', (port) => ({
    cmd: NGINX_BIN,
    args: [
      '-c',
      writeNginxConf(dir, port, [
        `  server { listen 127.0.0.1:${port} backlog=4096; root ${www};`,
        '    location = /readyz { return 200 "ok"; }',
        '    location = /-/readyz { return 200 "ok"; }',
        '  }',
      ]),
      '-e',
      join(dir, 'nginx-error.log'),
    ],
  })).start();
}

/** "direct": wrk against the upstream itself. Its pid is the upstream's, so it is sampled. */
export function direct(upstream: RunningSystem): BenchSystem {
  return {
    name: 'direct',
    start: () => Promise.resolve({ ...upstream, stop: () => Promise.resolve() }),
  };
}

/** nginx `proxy_pass` with upstream keep-alive (BENCHMARKING.md). */
export function nginxProxy(dir: string, upstreamUrl: string): BenchSystem {
  return pinnedSystem('nginx proxy_pass', (port) => ({
    cmd: NGINX_BIN,
    args: [
      '-c',
      writeNginxConf(dir, port, [
        `  upstream backend { server ${new URL(upstreamUrl).host}; keepalive 128; }`,
        `  server { listen 127.0.0.1:${port} backlog=4096;`,
        '    location / {',
        '      proxy_pass http://backend;',
        '      proxy_http_version 1.1;',
        '      proxy_set_header Connection "";',
        '      proxy_set_header Host $host;',
        '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
        '    }',
        '  }',
      ]),
      '-e',
      join(dir, 'nginx-error.log'),
    ],
  }));
}

function peerProxy(name: string, script: string, upstreamUrl: string): BenchSystem {
  return pinnedSystem(name, (port) => ({
    cmd: process.execPath,
    args: [join(HERE, 'servers', script), String(port), upstreamUrl],
    env: { NODE_ENV: 'production' },
  }));
}

export const httpProxy = (upstreamUrl: string) =>
  peerProxy('http-proxy', 'http-proxy.js', upstreamUrl);
export const replyFrom = (upstreamUrl: string) =>
  peerProxy('@fastify/reply-from', 'reply-from.js', upstreamUrl);

/**
 * Not a peer: the ceiling of any proxy built on node:http's server on this machine. A bare
 * node:http server relaying to the upstream over raw keep-alive sockets, with nothing else
 * (no routing, header hygiene, limits, metrics or log; a parser that knows only Content-Length).
 */
export const CEILING = 'ceiling: bare node:http relay';
export const ceilingRelay = (upstreamUrl: string) =>
  peerProxy(CEILING, 'ceiling-relay.js', upstreamUrl);

/**
 * The netlab gateway from its build, as it runs in the lab: the default route table, metrics,
 * the access log on at info level (written to a file, as the supervisor writes it to .lab/logs).
 */
export function netlabGateway(
  dir: string,
  upstreamUrl: string,
  name = 'netlab-gateway',
  env: NodeJS.ProcessEnv = {},
): BenchSystem {
  if (!existsSync(GATEWAY_MAIN)) throw new Error(`${GATEWAY_MAIN} is missing: run make build`);
  return pinnedSystem(name, (port) => {
    const log = join(dir, `gateway-${port}.log`);
    const fd = openSync(log, 'a');
    // The child keeps its own copy of the descriptor.
    setTimeout(() => closeSync(fd), 5000).unref();
    return {
      cmd: process.execPath,
      args: [GATEWAY_MAIN],
      env: {
        HOST: '127.0.0.1',
        PORT: String(port),
        TCP_PORT: 'off',
        UPSTREAMS: `static=${upstreamUrl}`,
        LOG_LEVEL: 'info',
        NATS_URL: '',
        NETLAB_CONTROL_SOCKET: '',
        ...GATEWAY_LAB_ENV,
        ...env,
      },
      stdio: fd,
    };
  });
}

/** The whole body of `url` hashed, to check every system serves the same bytes. */
export async function sha256Of(url: string): Promise<string> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return createHash('sha256')
    .update(Buffer.from(await res.arrayBuffer()))
    .digest('hex');
}

export function nginxVersion(): string {
  // `nginx -v` writes to stderr.
  const r = spawnSync('/usr/sbin/nginx', ['-v'], { encoding: 'utf8' });
  return /nginx\/[\d.]+/.exec(`${r.stdout}${r.stderr}`)?.[0] ?? 'nginx';
}
