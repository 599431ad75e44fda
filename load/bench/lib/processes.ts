import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { BenchSystem, RunningSystem } from './matrix.ts';
import { CORES, spawnPinned } from './pinning.ts';

/** A port nobody listens on right now (bound and released; good enough on a quiet loopback). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** Asks a child to stop (SIGTERM by default), and SIGKILLs it after `graceMs`. */
export function stopChild(
  child: ChildProcess,
  opts: { signal?: NodeJS.Signals; graceMs?: number } = {},
): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.graceMs ?? 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(opts.signal ?? 'SIGTERM');
  });
}

/** What a pinned system runs, given the port it was handed. */
export interface PinnedCommand {
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where the system's own output goes (a file descriptor); ignored by default. */
  stdio?: 'ignore' | number;
}

/**
 * A system started as one process pinned to `core` (CORES.server by default) on a free port,
 * ready once `ready(port)` resolves; killed if it never gets there. `url` is what tests use:
 * `http://127.0.0.1:PORT` unless told otherwise.
 */
export function pinnedSystem(
  name: string,
  command: (port: number) => PinnedCommand,
  opts: {
    ready: (port: number) => Promise<void>;
    url?: (port: number) => string;
    core?: number;
  },
): BenchSystem {
  return {
    name,
    async start(): Promise<RunningSystem> {
      const port = await freePort();
      const { cmd, args, env, cwd, stdio } = command(port);
      const out = stdio ?? 'ignore';
      const child = spawnPinned(opts.core ?? CORES.server, cmd, args, {
        env: { ...process.env, ...env },
        cwd,
        stdio: ['ignore', out, out],
      });
      try {
        await opts.ready(port);
      } catch (err) {
        await stopChild(child, { signal: 'SIGKILL' });
        throw err;
      }
      const url = opts.url?.(port) ?? `http://127.0.0.1:${port}`;
      return { pid: child.pid ?? 0, url, stop: () => stopChild(child) };
    },
  };
}
