import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CORES,
  NGINX_BIN,
  installNpmPeers,
  type PinnedCommand,
  pinnedSystem as pinnedProcess,
  repoRoot,
  waitForHttp,
  writeNginxConf,
} from '../lib/index.ts';
import type { BenchSystem } from '../lib/index.ts';

/** The systems compared by run.ts and evaluate.ts, and the files they serve. */

// From the working directory (make runs from the root): tsc sees load/ as CommonJS, where
// import.meta is refused, while Node runs these files as ES modules.
export const HERE = join(repoRoot(process.cwd()), 'load', 'bench', 'static');
export const REPO = repoRoot(HERE);
export const PEERS_DIR = join(HERE, '.peers');
const NETLAB_MAIN = join(REPO, 'services', 'static', 'dist', 'main.js');

/** Pinned peers (BENCHMARKING.md): installed into .peers when missing or at another version. */
export const PEERS: Readonly<Record<string, string>> = {
  express: '5.3.0',
  send: '1.2.1',
  '@fastify/send': '4.2.1',
};

export function installPeers(say: (line: string) => void): void {
  installNpmPeers(PEERS_DIR, PEERS, say);
}

/** The same files for every system: a 2 KiB index.html, 1 MiB and 100 MiB of random bytes. */
export const FILES = { small: '/index.html', medium: '/1m.bin', large: '/100m.bin' } as const;

export function makeSite(dir: string): Record<string, string> {
  const www = join(dir, 'www');
  mkdirSync(www, { recursive: true });
  const html = `<!DOCTYPE html><html><head><title>bench</title></head><body><pre>${randomBytes(1500).toString('base64')}`;
  const index = Buffer.from(`${html}`.slice(0, 2048 - 21) + '</pre></body></html>\n');
  writeFileSync(join(www, 'index.html'), index);
  writeFileSync(join(www, '1m.bin'), randomBytes(1024 * 1024));
  const big = randomBytes(1024 * 1024);
  const fd = join(www, '100m.bin');
  writeFileSync(fd, '');
  for (let i = 0; i < 100; i += 1) writeFileSync(fd, big, { flag: 'a' });
  const sha = (p: string) =>
    createHash('sha256')
      .update(readFileSync(join(www, p)))
      .digest('hex');
  return {
    www,
    [FILES.small]: sha('index.html'),
    [FILES.medium]: sha('1m.bin'),
    [FILES.large]: sha('100m.bin'),
  };
}

/** A system on a free port, ready once it serves the site's index. */
function pinnedSystem(
  name: string,
  command: (port: number) => PinnedCommand,
  core: number = CORES.server,
): BenchSystem {
  return pinnedProcess(name, command, {
    core,
    ready: (port) => waitForHttp(`http://127.0.0.1:${port}/index.html`),
  });
}

/** nginx from Debian: one worker, sendfile on, access log off, everything in a temp dir. */
export function nginx(dir: string, www: string): BenchSystem {
  return pinnedSystem('nginx', (port) => {
    const conf = writeNginxConf(dir, port, [
      '  include /etc/nginx/mime.types;',
      '  tcp_nopush on;',
      `  server { listen 127.0.0.1:${port}; root ${www}; }`,
    ]);
    return { cmd: NGINX_BIN, args: ['-c', conf, '-e', join(dir, 'nginx-error.log')] };
  });
}

/** `python3 -m http.server`, as the lesson runs it (it logs every request; stdio is ignored). */
export function pythonHttpServer(www: string): BenchSystem {
  return pinnedSystem('python http.server', (port) => ({
    cmd: 'python3',
    args: ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', www],
  }));
}

function peerServer(name: string, script: string, www: string): BenchSystem {
  return pinnedSystem(name, (port) => ({
    cmd: process.execPath,
    args: [join(HERE, 'servers', script), String(port), www],
    env: { NODE_ENV: 'production' },
  }));
}

export const expressStatic = (www: string) =>
  peerServer('express.static', 'express-static.js', www);
export const fastifySend = (www: string) => peerServer('@fastify/send', 'fastify-send.js', www);
export const send = (www: string) => peerServer('send', 'send.js', www);

/** netlab-static from its build, with defaults except the access log (nginx's is off too). */
export function netlabStatic(www: string, env: NodeJS.ProcessEnv = {}): BenchSystem {
  if (!existsSync(NETLAB_MAIN)) throw new Error(`${NETLAB_MAIN} is missing: run make build`);
  return pinnedSystem('netlab-static', (port) => ({
    cmd: process.execPath,
    args: [NETLAB_MAIN, String(port), '--root', www, '--host', '127.0.0.1'],
    env: { STATIC_ACCESS_LOG: 'false', LOG_LEVEL: 'warn', NATS_URL: '', ...env },
  }));
}

/** The whole body of `url` hashed, to check a system serves the same bytes as the others. */
export async function sha256Of(url: string): Promise<string> {
  const res = await fetch(url, { headers: { 'accept-encoding': 'identity' } });
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return createHash('sha256')
    .update(Buffer.from(await res.arrayBuffer()))
    .digest('hex');
}
