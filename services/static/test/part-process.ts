import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { waitFor } from '@netlab/shared/testing';

/** The built entry point, as `netlab up` and `netlab-static` run it. */
export const MAIN = join(__dirname, '..', 'dist', 'main.js');

export interface PartProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly lines: Record<string, unknown>[];
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the port from the `listening` log line. */
  listening(): Promise<number>;
  /** SIGKILL if still running (cleanup after a failed test). */
  kill(): void;
}

/** Starts `node dist/main.js ...args` with a minimal environment plus `env`. */
export function startPart(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): PartProcess {
  const proc = spawn(process.execPath, [MAIN, ...args], {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH, STATIC_ACCESS_LOG: 'false', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  createInterface({ input: proc.stdout }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      lines.push({ raw: line });
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    pid: proc.pid ?? 0,
    lines,
    stderr: () => stderr,
    exited,
    async listening() {
      const line = await waitFor('the static server to listen', () => {
        if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}: ${stderr}`);
        return lines.find((l) => l.msg === 'listening');
      });
      return line.port as number;
    },
    kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/** Resident memory of a process in bytes, from /proc/<pid>/status. */
export function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}
