import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';

/**
 * Runs `k6 run` with its output going to the terminal (stderr, so that stdout carries only the
 * report) and to k6.log, and its REST API on a port of our choosing so that the runner knows when
 * the test itself starts (chaos faults are timed from there).
 */
/** lib.ExecutionStatusRunning in k6: setup() is done and the executors start. */
const EXECUTION_STATUS_RUNNING = 7;

export interface K6Run {
  exitCode: Promise<number>;
  /** Date.now() when k6 reports its executors started (after setup()); rejects if k6 exits first. */
  running: Promise<number>;
  stop(): void;
}

export function runK6(opts: {
  bin: string;
  script: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
  apiPort: number;
  quiet: boolean;
}): K6Run {
  const log = createWriteStream(opts.logFile);
  const args = [
    'run',
    '--address',
    `127.0.0.1:${opts.apiPort}`,
    ...(opts.quiet ? ['--quiet'] : []),
    opts.script,
  ];
  const child = spawn(opts.bin, args, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      log.write(chunk);
    });
  }
  const exitCode = new Promise<number>((resolve) => {
    child.once('error', (err) => {
      log.end(`k6 could not start: ${err.message}\n`);
      resolve(127);
    });
    child.once('close', (code, signal) => {
      log.end();
      resolve(code ?? (signal === null ? 1 : 128));
    });
  });
  const running = (async () => {
    let done = false;
    void exitCode.then(() => (done = true));
    for (let i = 0; i < 1200 && !done; i++) {
      const ok = await fetch(`http://127.0.0.1:${opts.apiPort}/v1/status`, {
        signal: AbortSignal.timeout(1000),
      })
        .then(
          (r) =>
            r.json() as Promise<{ data?: { attributes?: { running?: boolean; status?: number } } }>,
        )
        .then((j) => j.data?.attributes?.status === EXECUTION_STATUS_RUNNING)
        .catch(() => false);
      if (ok) return Date.now();
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('k6 never reported the test running');
  })();
  running.catch(() => undefined);
  return { exitCode, running, stop: () => child.kill('SIGINT') };
}
