import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from '@netlab/shared/testing';

/**
 * The whole lab for the dashboard's browser test, run the way `make dev` runs it: the real
 * `netlab up` (infra/lab/dist/main.js) with every part, in a temp lab directory, every port chosen
 * free. Driven by the real `netlab` CLI; destroyed (process groups killed) even on failure.
 */
export const repoRoot = resolve(__dirname, '..', '..', '..');
const netlabMain = join(repoRoot, 'infra', 'lab', 'dist', 'main.js');

/** A port nobody listens on right now (for nats-server's monitoring, which the gateway is told). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

interface InstanceReport {
  name: string;
  pid: number | null;
  state: string;
  url: string;
}
export interface LabStatus {
  nats: { pid: number | null; url: string | null; monitorUrl: string | null };
  parts: { name: string; instances: InstanceReport[] }[];
}

export interface Lab {
  dir: string;
  cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  status(): Promise<LabStatus>;
  /** The URL of a part's first instance. */
  url(part: string): Promise<string>;
  output(): string;
  destroy(): Promise<void>;
}

export async function startLab(opts: { resultsDir: string }): Promise<Lab> {
  for (const ws of [
    'infra/lab',
    'gateway',
    'services/static',
    'services/dynamic',
    'services/fetcher',
    'services/tcp-echo',
  ]) {
    if (!existsSync(join(repoRoot, ws, 'dist', 'main.js'))) {
      throw new Error(`${ws}/dist/main.js is missing: build first (make build)`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'netlab-dash-lab-'));
  const monitorPort = await freePort();
  const manifest = join(dir, 'manifest.json');
  writeFileSync(
    manifest,
    JSON.stringify({
      parts: [
        {
          name: 'static',
          workspace: 'services/static',
          port: 0,
          readinessPath: '/-/readyz',
          env: { STATIC_ROOT: '${REPO_ROOT}/services/static/site' },
        },
        {
          name: 'dynamic',
          workspace: 'services/dynamic',
          port: 0,
          env: { DATABASE_URL: 'sqlite:${NETLAB_DIR}/stock.db' },
        },
        {
          name: 'tcp-echo',
          workspace: 'services/tcp-echo',
          port: 0,
          scheme: 'tcp',
          healthPortEnv: 'HEALTH_PORT',
          healthPort: 0,
        },
        {
          name: 'fetcher',
          workspace: 'services/fetcher',
          port: 0,
          env: { FETCH_DOWNLOADS_DIR: '${NETLAB_DIR}/downloads' },
        },
        {
          name: 'gateway',
          workspace: 'gateway',
          port: 0,
          readinessPath: '/-/readyz',
          env: {
            TCP_PORT: '0',
            HEALTH_INTERVAL: '250ms',
            DISCOVERY_INTERVAL: '500ms',
            NATS_MONITOR_URL: `http://127.0.0.1:${monitorPort}`,
            DASHBOARD_RESULTS_DIR: opts.resultsDir,
            DASHBOARD_POLL_INTERVAL: '500ms',
          },
        },
      ],
    }),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NETLAB_DIR: dir,
    NETLAB_MANIFEST: manifest,
    NATS_PORT: '0',
    NATS_MONITOR_PORT: String(monitorPort),
    NETLAB_STOP_GRACE: '5s',
    NETLAB_READY_TIMEOUT: '30s',
    LOG_LEVEL: 'warn',
    NO_COLOR: '1',
  };
  // A process group of its own, so that destroy() reaches it and its children whatever happens.
  const proc: ChildProcess = spawn(process.execPath, [netlabMain, 'up'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  proc
    .stdout!.setEncoding('utf8')
    .on('data', (c: string) => (output = (output + c).slice(-20_000)));
  proc
    .stderr!.setEncoding('utf8')
    .on('data', (c: string) => (output = (output + c).slice(-20_000)));
  const exited = new Promise<void>((done) => proc.once('exit', () => done()));
  const seen = new Set<number>();

  const cli: Lab['cli'] = (args) =>
    new Promise((done) => {
      execFile(
        process.execPath,
        [netlabMain, ...args],
        { env, cwd: repoRoot, timeout: 60_000 },
        (err, stdout, stderr) =>
          done({
            code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1,
            stdout,
            stderr,
          }),
      );
    });
  const status = async (): Promise<LabStatus> => {
    const r = await cli(['status', '--json']);
    if (r.code !== 0) throw new Error(`netlab status failed: ${r.stderr}`);
    const s = JSON.parse(r.stdout) as LabStatus;
    if (s.nats.pid !== null) seen.add(s.nats.pid);
    for (const p of s.parts) for (const i of p.instances) if (i.pid !== null) seen.add(i.pid);
    return s;
  };

  const lab: Lab = {
    dir,
    cli,
    status,
    async url(part) {
      const s = await status();
      const inst = s.parts.find((p) => p.name === part)?.instances[0];
      if (inst === undefined) throw new Error(`no instance of ${part}`);
      return inst.url;
    },
    output: () => output,
    async destroy() {
      const stop = proc.exitCode === null ? await cli(['stop']).catch(() => undefined) : undefined;
      const stoppedCleanly =
        proc.exitCode !== null || (stop?.code === 0 && !existsSync(join(dir, 'netlab.pids.json')));
      if (!stoppedCleanly) {
        try {
          const file = JSON.parse(readFileSync(join(dir, 'netlab.pids.json'), 'utf8')) as {
            processes: { pid: number }[];
          };
          for (const p of file.processes) seen.add(p.pid);
        } catch {
          // No pid file: nothing more to learn.
        }
        // Only when the stop failed: every pid this lab had, groups first.
        for (const pid of [proc.pid, ...seen]) {
          if (pid === undefined) continue;
          for (const target of [-pid, pid]) {
            try {
              process.kill(target, 'SIGKILL');
            } catch {
              // Already gone.
            }
          }
        }
      }
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await waitFor(
      'every part of the lab to run',
      async () => {
        if (proc.exitCode !== null)
          throw new Error(`netlab up exited ${proc.exitCode}:\n${output}`);
        const s = await status().catch(() => undefined);
        return (
          s !== undefined &&
          s.parts.length === 5 &&
          s.parts.every(
            (p) => p.instances.length > 0 && p.instances.every((i) => i.state === 'running'),
          )
        );
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
  } catch (err) {
    await lab.destroy();
    throw new Error(`${(err as Error).message}\n${output}`, { cause: err });
  }
  return lab;
}
