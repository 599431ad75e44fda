import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * `.lab/netlab.pids.json`: the children of the running supervisor. Children run in process groups
 * of their own (see process-stop.ts), so a supervisor that is SIGKILLed leaves them running, with
 * nats-server holding its port; the next `up` reads this file and ends them.
 */

export interface PidRecord {
  pid: number;
  name: string;
  /** A string the process's command line contains, so a reused pid is never killed by mistake. */
  command: string;
}

const pidFileSchema = z.object({
  supervisor: z.number().int(),
  processes: z.array(z.object({ pid: z.number().int(), name: z.string(), command: z.string() })),
});

export function writePidFile(
  path: string,
  supervisor: number,
  processes: readonly PidRecord[],
): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ supervisor, processes }, null, 2)}\n`);
  renameSync(tmp, path);
}

export function removePidFile(path: string): void {
  rmSync(path, { force: true });
}

export interface ReapDeps {
  isAlive: (pid: number) => boolean;
  /** The process's command line, or undefined when it cannot be read (then it is left alone). */
  commandLineOf: (pid: number) => string | undefined;
  kill: (pid: number) => void;
}

/** Linux: the NUL-separated argv of a process. */
export function procCommandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/** Kills the processes a dead supervisor left behind; returns the ones it killed. */
export function reapOrphans(path: string, deps: ReapDeps): PidRecord[] {
  let data: z.infer<typeof pidFileSchema>;
  try {
    data = pidFileSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return [];
  }
  const reaped: PidRecord[] = [];
  for (const record of data.processes) {
    if (!deps.isAlive(record.pid)) continue;
    if (deps.commandLineOf(record.pid)?.includes(record.command) !== true) continue;
    deps.kill(record.pid);
    reaped.push(record);
  }
  removePidFile(path);
  return reaped;
}
