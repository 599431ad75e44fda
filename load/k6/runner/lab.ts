import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * The lab a run is aimed at: the one that answers at BASE_URL, or one the runner starts with
 * `netlab up` (and stops again). A lab the runner starts serves a copy of the static site with a
 * 1 MiB file added at /load/large.bin, for the static scenario's large-file journey.
 */

export interface Lab {
  started: boolean;
  notes: string[];
  /** `netlab <args>` against this lab; resolves with the exit code and output. */
  netlab(args: string[], timeoutMs?: number): Promise<{ code: number; output: string }>;
  stop(): Promise<void>;
}

export const LARGE_FILE_PATH = '/load/large.bin';
const LARGE_FILE_BYTES = 1024 * 1024;

async function answers(url: string, timeoutMs = 2000): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
}

export const labAnswers = async (baseUrl: string): Promise<boolean> =>
  (await answers(`${baseUrl}/-/readyz`)) === 200;

export const hasLargeFile = async (baseUrl: string): Promise<boolean> =>
  (await answers(`${baseUrl}${LARGE_FILE_PATH}`, 5000)) === 200;

function netlabCli(root: string, env: NodeJS.ProcessEnv) {
  return (args: string[], timeoutMs = 120_000): Promise<{ code: number; output: string }> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [join(root, 'infra/lab/dist/main.js'), ...args],
        { cwd: root, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
          resolve({ code, output: `${stdout}${stderr}` });
        },
      );
    });
}

/** A copy of the static site plus the large file; the manifest with STATIC_ROOT pointing at it. */
function prepareManifest(root: string, labDir: string): string {
  const dist = join(root, 'infra/lab/dist/parts.js');
  if (!existsSync(dist)) throw new Error('infra/lab is not built: run `make build` first');
  const requireCjs = createRequire(join(root, 'package.json'));
  const { labParts } = requireCjs(dist) as {
    labParts: { name: string; env?: Record<string, string> }[];
  };
  const site = join(labDir, 'load', 'site');
  mkdirSync(join(site, 'load'), { recursive: true });
  cpSync(join(root, 'services/static/site'), site, { recursive: true });
  const large = join(site, LARGE_FILE_PATH);
  if (!existsSync(large)) {
    // Deterministic, incompressible enough that no layer can shortcut it.
    const buf = Buffer.alloc(LARGE_FILE_BYTES);
    let x = 2463534242;
    for (let i = 0; i < buf.length; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      buf.writeUInt32LE(x >>> 0, i);
    }
    writeFileSync(large, buf);
  }
  const parts = labParts.map((p) =>
    p.name === 'static' ? { ...p, env: { ...p.env, STATIC_ROOT: site } } : p,
  );
  const manifest = join(labDir, 'load', 'manifest.json');
  writeFileSync(manifest, JSON.stringify({ parts }, null, 2));
  return manifest;
}

interface LabStatusJson {
  parts: { name: string; instances: { state: string }[] }[];
  nats: { state: string };
}

async function waitReady(
  baseUrl: string,
  cli: ReturnType<typeof netlabCli>,
  child: ChildProcess,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'nothing yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`netlab up exited with code ${child.exitCode}`);
    const status = await cli(['status', '--json'], 10_000);
    if (status.code === 0) {
      const s = JSON.parse(status.output) as LabStatusJson;
      const waiting = s.parts.filter((p) => p.instances.some((i) => i.state !== 'running'));
      const upstreams = await fetch(`${baseUrl}/-/upstreams`, { signal: AbortSignal.timeout(2000) })
        .then((r) => r.json() as Promise<{ services: Record<string, { state: string }[]> }>)
        .catch(() => undefined);
      const missing = s.parts
        .map((p) => p.name)
        .filter((name) => name !== 'gateway')
        .filter((name) => !(upstreams?.services[name] ?? []).some((i) => i.state === 'healthy'));
      if (waiting.length === 0 && missing.length === 0 && s.nats.state === 'running') return;
      last = `waiting for ${[...waiting.map((p) => p.name), ...missing.map((m) => `${m} in the gateway`)].join(', ')}`;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the lab was not ready within ${timeoutMs / 1000} s (${last})`);
}

export async function openLab(opts: {
  root: string;
  baseUrl: string;
  /** Where `netlab up`'s output goes. */
  logFile: string;
  readyTimeoutMs: number;
  /** Start a lab when none answers (false: fail instead). */
  start: boolean;
  say: (line: string) => void;
}): Promise<Lab> {
  const env = { ...process.env };
  const cli = netlabCli(opts.root, env);
  if (await labAnswers(opts.baseUrl)) {
    const notes: string[] = [];
    if (!(await hasLargeFile(opts.baseUrl))) {
      notes.push(
        `The running lab's static root has no ${LARGE_FILE_PATH}: large-file requests were skipped (a lab the runner starts has it).`,
      );
    }
    return { started: false, notes, netlab: cli, stop: () => Promise.resolve() };
  }
  if (!opts.start)
    throw new Error(`nothing answers at ${opts.baseUrl}/-/readyz (start the lab with make dev)`);
  const local = /^http:\/\/(127\.0\.0\.1|localhost):8080$/.test(opts.baseUrl);
  if (!local) {
    throw new Error(
      `nothing answers at ${opts.baseUrl}, and the runner only starts the local lab (http://127.0.0.1:8080)`,
    );
  }
  const labDir = process.env['NETLAB_DIR'] ?? join(opts.root, '.lab');
  const manifest = prepareManifest(opts.root, labDir);
  opts.say(`no lab answers at ${opts.baseUrl}: starting one with netlab up (log: ${opts.logFile})`);
  const log = createWriteStream(opts.logFile);
  const child = spawn(process.execPath, [join(opts.root, 'infra/lab/dist/main.js'), 'up'], {
    cwd: opts.root,
    env: { ...env, NETLAB_MANIFEST: manifest, NO_COLOR: '1' },
    // A group of its own: the runner's Ctrl-C is handled by the runner, which stops the lab.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      opts.say('stopping the lab the runner started');
      await cli(['stop'], 60_000);
      const killed = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 20_000);
      await exited;
      clearTimeout(killed);
    }
    log.end();
  };
  try {
    await waitReady(opts.baseUrl, cli, child, opts.readyTimeoutMs);
  } catch (err) {
    await stop();
    const tail = readFileSync(opts.logFile, 'utf8').split('\n').slice(-20).join('\n');
    throw new Error(`${(err as Error).message}\n--- last lines of ${opts.logFile}:\n${tail}`, {
      cause: err,
    });
  }
  opts.say('the lab is ready');
  return { started: true, notes: [], netlab: cli, stop };
}
