import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Starting nats-server and learning which ports it took: used by `netlab up` and by the test
 * helper. With `-p -1` (and `-m -1`) the server picks free ports and logs them; we read the log.
 */

export interface NatsServerArgs {
  /** A configuration file, e.g. infra/nats/nats.conf; the arguments below override it. */
  configFile?: string;
  host: string;
  /** 0: the server chooses (`-p -1`). */
  port: number;
  /** Monitoring port; 0: the server chooses; undefined: no monitoring. */
  monitorPort?: number;
  /** JetStream's store directory; undefined: JetStream off. */
  storeDir?: string;
}

export function natsServerArgs(opts: NatsServerArgs): string[] {
  const portArg = (p: number): string => (p === 0 ? '-1' : String(p));
  return [
    ...(opts.configFile === undefined ? [] : ['-c', opts.configFile]),
    '-a',
    opts.host,
    '-p',
    portArg(opts.port),
    ...(opts.monitorPort === undefined ? [] : ['-m', portArg(opts.monitorPort)]),
    ...(opts.storeDir === undefined ? [] : ['-js', '-sd', opts.storeDir]),
  ];
}

export interface SpawnNatsOptions {
  /** The executable; `nats-server` from PATH by default. */
  bin?: string;
  args: readonly string[];
  timeoutMs: number;
  /** Everything the server logs, from the first line on. */
  onOutput?: (chunk: string) => void;
  /** A process group of its own, so a terminal's Ctrl-C does not reach it (the supervisor's). */
  detached?: boolean;
  /** The server's environment (the secured configuration reads its passwords from it). */
  env?: NodeJS.ProcessEnv;
}

export interface NatsServerProcess {
  proc: ChildProcess;
  pid: number;
  port: number;
  monitorPort: number | undefined;
}

const LISTENING = /Listening for client connections on \S*:(\d+)/;
const MONITOR = /Starting http monitor on \S*:(\d+)/;

export function hasExited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

export function waitForExit(proc: ChildProcess): Promise<void> {
  if (hasExited(proc)) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

/** Starts nats-server and resolves once it accepts clients, with the ports it took. */
export function spawnNatsServer(opts: SpawnNatsOptions): Promise<NatsServerProcess> {
  const bin = opts.bin ?? 'nats-server';
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, [...opts.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: opts.detached ?? false,
      ...(opts.env === undefined ? {} : { env: opts.env }),
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
    proc.once('error', (err) =>
      fail(
        new Error(
          `could not run ${bin} (${err.message}); install it with infra/scripts/setup.sh nats (Debian: apt-get install nats-server)`,
        ),
      ),
    );
    proc.once('exit', (code, signal) =>
      fail(new Error(`nats-server exited (${code ?? signal}) before it was ready:\n${seen}`)),
    );
    const onData = (chunk: string): void => {
      opts.onOutput?.(chunk);
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
    // nats-server logs to stderr; read stdout too, or a full pipe would block it.
    proc.stdout.setEncoding('utf8').on('data', onData);
    proc.stderr.setEncoding('utf8').on('data', onData);
  });
}
