import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { LabStatus } from '../src/lab-protocol';

/**
 * Runs the real `netlab` (infra/lab/dist/main.js) against a temp lab directory, with nats-server
 * and the fixture part on ports of their own choosing. Needs `tsc -b infra/lab` to have run.
 */

export const repoRoot = resolve(__dirname, '..', '..', '..');
export const mainJs = join(repoRoot, 'infra', 'lab', 'dist', 'main.js');
const sharedDist = join(repoRoot, 'services', 'shared', 'dist', 'index.js');
export const fixtureDir = join(__dirname, 'fixtures');

/** Fails with a clear message when the build has not run (the Makefile builds before testing). */
export function requireBuilt(): void {
  const missing = [mainJs, sharedDist].filter((f) => !existsSync(f));
  if (missing.length > 0) {
    throw new Error(
      `${missing.join(' and ')} missing: build first with \`tsc -b infra/lab\` (make build)`,
    );
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A fresh lab directory with a manifest that runs the fixture part. */
export function createLabDir(fixture: Record<string, unknown> = {}): {
  dir: string;
  env: NodeJS.ProcessEnv;
} {
  const dir = mkdtempSync(join(tmpdir(), 'netlab-lab-'));
  const manifest = join(dir, 'manifest.json');
  writeFileSync(
    manifest,
    JSON.stringify({
      parts: [
        { name: 'fixture', workspace: fixtureDir, entry: 'fixture-part.js', port: 0, ...fixture },
      ],
    }),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NETLAB_DIR: dir,
    NETLAB_MANIFEST: manifest,
    NATS_PORT: '0',
    NATS_MONITOR_PORT: '0',
    NETLAB_STOP_GRACE: '5s',
    NETLAB_READY_TIMEOUT: '15s',
    LOG_LEVEL: 'info',
    NO_COLOR: '1',
  };
  return { dir, env };
}

export function cli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [mainJs, ...args],
      { env, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        done({ code, stdout, stderr });
      },
    );
  });
}

export async function status(env: NodeJS.ProcessEnv): Promise<LabStatus> {
  const result = await cli(['status', '--json'], env);
  if (result.code !== 0) throw new Error(`status failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as LabStatus;
}

export interface RunningLab {
  proc: ChildProcess;
  dir: string;
  env: NodeJS.ProcessEnv;
  output(): string;
  exited: Promise<number | null>;
  /** Every pid the lab has had, for a clean-up that leaves nothing behind even on failure. */
  seen: Set<number>;
  remember(s: LabStatus): LabStatus;
  /** SIGKILL the supervisor and every child it had; removes the lab directory. */
  destroy(): Promise<void>;
}

export function startLab(dir: string, env: NodeJS.ProcessEnv): RunningLab {
  // A group of its own, so that afterAll can kill it whatever state it is in.
  const proc = spawn(process.execPath, [mainJs, 'up'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<number | null>((done) => proc.once('exit', (code) => done(code)));
  const seen = new Set<number>();
  const kill = (pid: number): void => {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  return {
    proc,
    dir,
    env,
    output: () => output,
    exited,
    seen,
    remember(s) {
      if (s.nats.pid !== null) seen.add(s.nats.pid);
      for (const part of s.parts)
        for (const i of part.instances) if (i.pid !== null) seen.add(i.pid);
      return s;
    },
    async destroy() {
      try {
        const file = JSON.parse(readFileSync(join(dir, 'netlab.pids.json'), 'utf8')) as {
          processes: { pid: number }[];
        };
        for (const p of file.processes) seen.add(p.pid);
      } catch {
        // No pid file: the lab stopped cleanly (or never started).
      }
      if (proc.pid !== undefined && proc.exitCode === null) kill(proc.pid);
      for (const pid of seen) if (isAlive(pid)) kill(pid);
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One GET on loopback, without keep-alive: the status code and body. */
export function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = get(url, { agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.once('error', fail);
  });
}
