import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasExited, natsServerArgs, spawnNatsServer, waitForExit } from '../nats-server-process';
import {
  generateNatsPasswords,
  natsPasswordEnv,
  securedNatsConfigFile,
  type NatsUser,
} from '../nats-users';

/** A real nats-server for a test, on a port of its own choosing (`-p -1`). */
export interface NatsServerHandle {
  /** `nats://127.0.0.1:PORT`; stays the same across {@link restart}. */
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** With `secured`: each user's password for this server (random per server); else undefined. */
  readonly passwords: Readonly<Record<NatsUser, string>> | undefined;
  /** With `secured`: `{ user, password }` for connectNats, or `NATS_USER`/`NATS_PASSWORD`. */
  credentials(user: NatsUser): { user: string; password: string };
  /** False after stop or kill, until restart. */
  isRunning(): boolean;
  /** SIGTERM and wait for the exit (a graceful stop, like `netlab stop`). */
  stop(): Promise<void>;
  /** SIGKILL: the server vanishes without a goodbye, as in a crash. */
  kill(): Promise<void>;
  /** Starts again on the same port and store directory (after stop or kill). */
  restart(): Promise<void>;
  /** Stops the server and removes its store directory. */
  dispose(): Promise<void>;
}

export interface NatsServerOptions {
  jetstream?: boolean;
  /** A configuration file (e.g. infra/nats/nats.conf); ports still come from the arguments. */
  configFile?: string;
  /** How long to wait for the server to accept clients. */
  startTimeoutMs?: number;
  /**
   * Run with infra/nats/nats.conf (users and permissions, unless `configFile` names another) and
   * a random password per user, as compose and `netlab up` do. Default: no authentication.
   */
  secured?: boolean;
}

/**
 * Starts nats-server from PATH with JetStream in a temporary store directory. Its port is chosen
 * by the server (`-p -1`) the first time and kept for restarts, so clients reconnect to it.
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const storeDir = await mkdtemp(join(tmpdir(), 'netlab-nats-'));
  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  const passwords = opts.secured === true ? generateNatsPasswords() : undefined;
  const configFile =
    opts.configFile ?? (opts.secured === true ? securedNatsConfigFile() : undefined);
  const start = (port: number) =>
    spawnNatsServer({
      ...(passwords === undefined
        ? {}
        : { env: { ...process.env, ...natsPasswordEnv(passwords) } }),
      args: natsServerArgs({
        ...(configFile === undefined ? {} : { configFile }),
        host: '127.0.0.1',
        port,
        ...(opts.jetstream === false ? {} : { storeDir }),
      }),
      timeoutMs,
    });
  const first = await start(0);
  const { port } = first;
  let { proc } = first;
  const url = `nats://127.0.0.1:${port}`;

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (!hasExited(proc)) proc.kill(sig);
    await waitForExit(proc);
  };

  return {
    url,
    port,
    get pid() {
      return proc.pid;
    },
    passwords,
    credentials(user) {
      if (passwords === undefined)
        throw new Error('credentials() needs startNatsServer({ secured: true })');
      return { user, password: passwords[user] };
    },
    isRunning: () => !hasExited(proc),
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    async restart() {
      await signal('SIGTERM');
      ({ proc } = await start(port));
    },
    async dispose() {
      await signal('SIGTERM');
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
