import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * nats-server under the supervisor. Unlike the shared `spawnNatsServer` (made for tests), this one
 * runs the server in its own process group so that Ctrl-C does not stop it before the parts have
 * drained, finds it in /usr/sbin too (where Debian puts it, off a normal user's PATH), and learns
 * the monitoring port as well as the client port.
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

export interface NatsProcessOptions {
  bin: string;
  configFile: string;
  host: string;
  /** 0: the server chooses. */
  port: number;
  /** 0: the server chooses. */
  monitorPort: number;
  storeDir: string;
  timeoutMs: number;
  /** Everything the server logs, from the first line on. */
  onOutput: (chunk: string) => void;
}

export interface NatsProcess {
  proc: ChildProcess;
  pid: number;
  port: number;
  monitorPort: number | undefined;
}

const LISTENING = /Listening for client connections on \S*:(\d+)/;
const MONITOR = /Starting http monitor on \S*:(\d+)/;

export function natsArgs(
  opts: Omit<NatsProcessOptions, 'bin' | 'timeoutMs' | 'onOutput'>,
): string[] {
  const portArg = (p: number): string => (p === 0 ? '-1' : String(p));
  return [
    '-c',
    opts.configFile,
    '-a',
    opts.host,
    '-p',
    portArg(opts.port),
    '-m',
    portArg(opts.monitorPort),
    '-js',
    '-sd',
    opts.storeDir,
  ];
}

/** Starts nats-server and resolves once it accepts clients, with the ports it took. */
export function spawnNatsProcess(opts: NatsProcessOptions): Promise<NatsProcess> {
  return new Promise((resolve, reject) => {
    const proc = spawn(opts.bin, natsArgs(opts), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let seen = '';
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (proc.exitCode === null && proc.pid !== undefined) proc.kill('SIGKILL');
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new Error(`nats-server did not start within ${opts.timeoutMs} ms:\n${seen}`)),
      opts.timeoutMs,
    );
    proc.once('error', (err) => fail(new Error(`could not run ${opts.bin}: ${err.message}`)));
    proc.once('exit', (code, signal) =>
      fail(new Error(`nats-server exited (${code ?? signal}) before it was ready:\n${seen}`)),
    );
    const onData = (chunk: string): void => {
      opts.onOutput(chunk);
      if (settled) return;
      if (seen.length < 64_000) seen += chunk;
      const listening = LISTENING.exec(seen);
      if (listening?.[1] === undefined || proc.pid === undefined) return;
      settled = true;
      clearTimeout(timer);
      const monitor = MONITOR.exec(seen)?.[1];
      resolve({
        proc,
        pid: proc.pid,
        port: Number(listening[1]),
        monitorPort: monitor === undefined ? undefined : Number(monitor),
      });
    };
    proc.stdout.setEncoding('utf8').on('data', onData);
    proc.stderr.setEncoding('utf8').on('data', onData);
  });
}
