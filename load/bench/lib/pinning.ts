import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { availableParallelism } from 'node:os';

/**
 * BENCHMARKING.md: the system under test (and its upstream) on one core, the load generator on
 * the other, so each gets a core of its own, like nginx with its workers confined to one core.
 */
export const CORES = { server: 1, load: 0 } as const;

let tasksetPresent: boolean | undefined;

/** Whether pinning is possible here: taskset exists and there are at least two cores. */
export function canPin(): boolean {
  if (tasksetPresent === undefined) {
    try {
      execFileSync('taskset', ['--version'], { stdio: 'ignore' });
      tasksetPresent = availableParallelism() >= 2;
    } catch {
      tasksetPresent = false;
    }
  }
  return tasksetPresent;
}

/** The command line that runs `command` on `core` (unpinned where pinning is impossible). */
export function pinnedCommand(
  core: number,
  command: string,
  args: readonly string[],
): [string, string[]] {
  return canPin() ? ['taskset', ['-c', String(core), command, ...args]] : [command, [...args]];
}

/**
 * Spawns `command` pinned to `core`; taskset execs the command, so the pid is the command's.
 * Output is ignored unless `options.stdio` says otherwise: a pipe nobody reads fills up and
 * blocks the server that logs into it (python's http.server logs every request).
 */
export function spawnPinned(
  core: number,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  const [cmd, argv] = pinnedCommand(core, command, args);
  return spawn(cmd, argv, { stdio: 'ignore', ...options });
}
