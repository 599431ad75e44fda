import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Finding (and if need be installing) nats-server for the supervisor. Starting it is the shared
 * `spawnNatsServer`, in a process group of its own so that Ctrl-C does not stop it before the
 * parts have drained.
 */

/** Debian installs nats-server into /usr/sbin, which is not on a normal user's PATH. */
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The first executable `name` on `pathVar`, then in the sbin directories. */
export function findExecutable(
  name: string,
  pathVar: string | undefined,
  extraDirs: readonly string[] = SBIN_DIRS,
): string | undefined {
  const dirs = [...(pathVar ?? '').split(delimiter).filter((d) => d !== ''), ...extraDirs];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; try the next directory.
    }
  }
  return undefined;
}

export interface NatsInstallDeps {
  /** Where nats-server is now (findExecutable in main.ts). */
  find: () => string | undefined;
  isRoot: boolean;
  /** Runs a command with the terminal attached; resolves its exit code. */
  run: (command: string, args: readonly string[]) => Promise<number>;
  write: (text: string) => void;
}

/**
 * Finds nats-server, installing it from Debian when running as root (DESIGN.md: nats-server comes
 * from `apt-get install nats-server`). Resolves undefined, after saying how to install it, when it
 * cannot.
 */
export async function ensureNatsServer(deps: NatsInstallDeps): Promise<string | undefined> {
  const found = deps.find();
  if (found !== undefined) return found;
  if (!deps.isRoot) {
    deps.write(
      'netlab: nats-server is not installed. Install it with:\n\n    sudo apt-get install nats-server\n\n',
    );
    return undefined;
  }
  deps.write('netlab: nats-server is not installed; installing it with apt-get\n');
  const install = ['install', '-y', 'nats-server'];
  // A fresh machine has no package lists yet: try as is, then once more after an update.
  if ((await deps.run('apt-get', install)) !== 0) {
    if ((await deps.run('apt-get', ['update'])) === 0) await deps.run('apt-get', install);
  }
  const installed = deps.find();
  if (installed === undefined) {
    deps.write(
      'netlab: could not install nats-server; try: apt-get update && apt-get install nats-server\n',
    );
  }
  return installed;
}
