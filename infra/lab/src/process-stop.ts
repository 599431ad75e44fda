import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasExited, waitForExit } from '@netlab/shared';

/**
 * Every child of the supervisor runs in a process group of its own (`detached: true`), so that a
 * Ctrl-C in the terminal reaches the supervisor only and the supervisor decides the order in which
 * things stop (parts in reverse start order, nats-server last).
 */

/** Signals the process group led by `pid` (the child and anything it spawned). */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exitsWithin(proc: ChildProcess, ms: number): Promise<boolean> {
  const ac = new AbortController();
  const outcome = await Promise.race([
    waitForExit(proc).then(() => true),
    sleep(ms, false, { signal: ac.signal }).catch(() => false),
  ]);
  ac.abort();
  return outcome;
}

/**
 * Stops a child gracefully: `askToStop` (a drain message, else `signal`, SIGTERM by default), up to `graceMs` for it to
 * exit, then SIGKILL to its group. Resolves with how it ended.
 */
export async function stopProcess(
  proc: ChildProcess,
  opts: { graceMs: number; askToStop?: () => Promise<boolean>; signal?: NodeJS.Signals },
): Promise<'exited' | 'killed'> {
  if (hasExited(proc) || proc.pid === undefined) return 'exited';
  const pid = proc.pid;
  const asked = (await opts.askToStop?.().catch(() => false)) ?? false;
  if (!asked && !hasExited(proc)) signalGroup(pid, opts.signal ?? 'SIGTERM');
  if (await exitsWithin(proc, opts.graceMs)) return 'exited';
  signalGroup(pid, 'SIGKILL');
  // SIGKILL cannot be ignored; the bound only guards against a zombie we are not reaping.
  await exitsWithin(proc, 5_000);
  return 'killed';
}
