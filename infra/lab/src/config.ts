import { join, resolve } from 'node:path';
import { env, type LogLevel } from '@netlab/shared';
import { z } from 'zod';

/**
 * The supervisor's configuration. Every variable has a default that gives the lab of DESIGN.md
 * ("Defaults"); tests move everything into a temp dir and onto ports of nats-server's choosing.
 */
export interface LabConfig {
  readonly labDir: string;
  /** 0: nats-server chooses (`-p -1`). */
  readonly natsPort: number;
  /** 0: nats-server chooses (`-m -1`). */
  readonly natsMonitorPort: number;
  /** A JSON manifest replacing the built-in list of parts. */
  readonly manifestFile: string | undefined;
  readonly stopGraceMs: number;
  readonly readyTimeoutMs: number;
  readonly logLevel: LogLevel;
}

/** The `.lab/` directory: only this is needed by the CLI commands that talk to a running lab. */
export function labDirSchema(repoRoot: string) {
  return z
    .object({ NETLAB_DIR: env.string().default(join(repoRoot, '.lab')) })
    .transform((e) => ({ labDir: resolve(e.NETLAB_DIR) }));
}

/** Everything `netlab up` reads. */
export function labConfigSchema(repoRoot: string) {
  return z
    .object({
      NETLAB_DIR: env.string().default(join(repoRoot, '.lab')),
      NATS_PORT: env.port().default(4222),
      NATS_MONITOR_PORT: env.port().default(8222),
      NETLAB_MANIFEST: env.string().optional(),
      NETLAB_STOP_GRACE: env.duration().default(10_000),
      NETLAB_READY_TIMEOUT: env.duration().default(30_000),
      LOG_LEVEL: env.logLevel().default('info'),
    })
    .transform((e): LabConfig => ({
      labDir: resolve(e.NETLAB_DIR),
      natsPort: e.NATS_PORT,
      natsMonitorPort: e.NATS_MONITOR_PORT,
      manifestFile: e.NETLAB_MANIFEST === undefined ? undefined : resolve(e.NETLAB_MANIFEST),
      stopGraceMs: e.NETLAB_STOP_GRACE,
      readyTimeoutMs: e.NETLAB_READY_TIMEOUT,
      logLevel: e.LOG_LEVEL,
    }));
}

/** The files of a lab directory (README.md, "Files under .lab/"). */
export interface LabPaths {
  readonly dir: string;
  readonly socket: string;
  readonly logs: string;
  readonly natsStore: string;
  /** Child pids of the running supervisor, to clean up after one that was killed. */
  readonly pidFile: string;
}

export function labPaths(labDir: string): LabPaths {
  return {
    dir: labDir,
    socket: join(labDir, 'netlab.sock'),
    logs: join(labDir, 'logs'),
    natsStore: join(labDir, 'nats'),
    pidFile: join(labDir, 'netlab.pids.json'),
  };
}

/** sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;
