import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  CORES,
  type PinnedCommand,
  pinnedSystem as pinnedProcess,
  repoRoot,
  spawnPinned,
  waitForTcp,
} from '../lib/index.ts';
import type { BenchSystem } from '../lib/index.ts';

/** The three echo servers run.ts compares, and the compiled client that loads them. */

// From the working directory, not import.meta: load/ has no package.json saying "module", so
// tsc treats these files as CommonJS and refuses import.meta (the Makefile runs from the root).
export const REPO = repoRoot(process.cwd());
export const HERE = join(REPO, 'load', 'bench', 'tcp-echo');
const TCP_ECHO_MAIN = join(REPO, 'services', 'tcp-echo', 'dist', 'main.js');
const CLIENT_SRC = join(HERE, 'rtt-client');
export const CLIENT_BIN = join(REPO, '.bin', 'tcp-rtt');
const GO = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';

/** Builds the Go client into .bin/ when it is missing or older than its source. */
export function buildClient(say: (line: string) => void): void {
  const src = join(CLIENT_SRC, 'main.go');
  if (existsSync(CLIENT_BIN) && statSync(CLIENT_BIN).mtimeMs >= statSync(src).mtimeMs) return;
  say(`building ${CLIENT_BIN}`);
  execFileSync(GO, ['build', '-o', CLIENT_BIN, '.'], {
    cwd: CLIENT_SRC,
    env: { ...process.env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** An echo server on a free port, ready once it accepts connections; its url is host:port. */
function pinnedSystem(name: string, command: (port: number) => PinnedCommand): BenchSystem {
  return pinnedProcess(name, command, {
    ready: (port) => waitForTcp('127.0.0.1', port),
    url: (port) => `127.0.0.1:${port}`,
  });
}

export const SYSTEMS = {
  /** The service as it ships: default limits, keep-alive, idle timer, write deadline, metrics. */
  'tcp-echo': (maxConnections: number): BenchSystem =>
    pinnedSystem('tcp-echo', (port) => ({
      cmd: process.execPath,
      args: [TCP_ECHO_MAIN],
      env: {
        HOST: '127.0.0.1',
        PORT: String(port),
        HEALTH_PORT: '0',
        LOG_LEVEL: 'warn',
        MAX_CONNECTIONS: String(maxConnections),
        NATS_URL: '',
      },
    })),
  'node pipe': (): BenchSystem =>
    pinnedSystem('node pipe', (port) => ({
      cmd: process.execPath,
      args: [
        '--disable-warning=MODULE_TYPELESS_PACKAGE_JSON',
        join(HERE, 'peers', 'pipe-echo.ts'),
        String(port),
      ],
    })),
  'python threads': (): BenchSystem =>
    pinnedSystem('python threads', (port) => ({
      cmd: 'python3',
      args: [join(HERE, 'peers', 'python_echo.py'), String(port)],
    })),
} as const;

export interface RttResult {
  roundTrips: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  cpuPercent: number;
}

/** One closed-loop run of the Go client, pinned to the load core. */
export function runRtt(
  addr: string,
  connections: number,
  size: number,
  durationS: number,
): Promise<RttResult> {
  return new Promise((resolve, reject) => {
    const child = spawnPinned(
      CORES.load,
      CLIENT_BIN,
      ['-addr', addr, '-c', String(connections), '-size', String(size), '-d', `${durationS}s`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`tcp-rtt exited ${code}: ${out}`));
      resolve(JSON.parse(out) as RttResult);
    });
  });
}

/**
 * Opens `count` idle connections (each has made one 1-byte round trip, so the server has set the
 * session up) and resolves once all are open; `close()` ends them and waits for the client.
 */
export function holdIdle(addr: string, count: number): Promise<{ close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawnPinned(CORES.load, CLIENT_BIN, ['-addr', addr, '-idle', String(count)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => {
      if (!out.includes('opened'))
        reject(new Error(`tcp-rtt -idle exited ${code} before opening ${count}`));
    });
    child.stdout?.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (out.includes('"opened"')) {
        resolve({
          close: async () => {
            child.stdin?.end();
            await exited;
          },
        });
      }
    });
  });
}
