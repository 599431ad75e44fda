import { spawn, type ChildProcess } from 'node:child_process';
import type { LogLevel } from '@netlab/shared';
import { createLineSplitter } from './line-splitter';
import { entryPath, expandPartEnv, type PartDefinition } from './manifest';

/** What the supervisor decided for one instance of a part. */
export interface InstancePlan {
  part: PartDefinition;
  /** `<part>-<n>`, n from 1. */
  name: string;
  port: number;
  healthPort: number | undefined;
}

export interface InstanceEnvOptions {
  repoRoot: string;
  labDir: string;
  natsUrl: string;
  /** nats-server's monitoring endpoint, for the gateway's dashboard; unset when it has none. */
  natsMonitorUrl?: string | undefined;
  controlSocket: string;
  logLevel: LogLevel;
  /** The supervisor's own environment: PATH, HOME and whatever the user exported. */
  inherited: Readonly<Record<string, string | undefined>>;
  /** The part's NATS user and password (infra/nats/nats.conf); unset: none are passed. */
  natsCredentials?: { user: string; password: string } | undefined;
}

export const INSTANCE_HOST = '127.0.0.1';

/**
 * An instance's environment: the supervisor's own, then the part's env from the manifest, then
 * what the lab decides (DESIGN.md, "Starting one part alone"), which always wins.
 */
export function instanceEnv(plan: InstancePlan, opts: InstanceEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.inherited)) if (v !== undefined) env[k] = v;
  Object.assign(env, expandPartEnv(plan.part.env, opts));
  Object.assign(env, {
    HOST: INSTANCE_HOST,
    PORT: String(plan.port),
    NATS_URL: opts.natsUrl,
    LOG_LEVEL: opts.logLevel,
    // The supervisor pretty-prints JSON lines itself and keeps them raw in .lab/logs.
    LOG_FORMAT: 'json',
    NETLAB_CONTROL_SOCKET: opts.controlSocket,
    NETLAB_INSTANCE: plan.name,
  });
  if (opts.natsMonitorUrl !== undefined) env.NATS_MONITOR_URL = opts.natsMonitorUrl;
  if (opts.natsCredentials !== undefined) {
    env.NATS_USER = opts.natsCredentials.user;
    env.NATS_PASSWORD = opts.natsCredentials.password;
  }
  if (plan.part.healthPortEnv !== undefined && plan.healthPort !== undefined) {
    env[plan.part.healthPortEnv] = String(plan.healthPort);
  }
  return env;
}

export interface SpawnInstanceOptions {
  nodeBin: string;
  repoRoot: string;
  env: Record<string, string>;
  /** Each batch of output lines, stdout and stderr alike. */
  onLines: (lines: string[]) => void;
}

/**
 * Starts `node <workspace>/<entry>` with the repository root as working directory, so that
 * relative paths in a part's env mean the same as in the manifest.
 */
export function spawnInstance(plan: InstancePlan, opts: SpawnInstanceOptions): ChildProcess {
  const proc = spawn(opts.nodeBin, [entryPath(plan.part, opts.repoRoot), ...plan.part.args], {
    cwd: opts.repoRoot,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  for (const stream of [proc.stdout, proc.stderr]) {
    const splitter = createLineSplitter(opts.onLines);
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => splitter.push(chunk));
    stream.on('end', () => splitter.flush());
  }
  return proc;
}
