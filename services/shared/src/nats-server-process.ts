import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Starting nats-server from PATH and learning which port it took: used by `netlab up` and by the
 * test helper. With `-p -1` the server picks a free port and logs it; we read it from stderr.
 */
const LISTENING = /Listening for client connections on [^\s]*:(\d+)/;

export function waitForExit(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

/**
 * Spawns nats-server with `args` and resolves once it accepts clients, with the port it listens
 * on. `onOutput` receives everything the server logs (it logs to stderr), before and after.
 */
export function spawnNatsServer(
  args: readonly string[],
  timeoutMs: number,
  onOutput?: (chunk: string) => void,
): Promise<{ proc: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn('nats-server', [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`nats-server did not start within ${timeoutMs} ms:\n${log}`));
    }, timeoutMs);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new Error(
          `could not run nats-server (${err.message}); install it with infra/scripts/setup.sh nats (Debian: apt-get install nats-server)`,
        ),
      );
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code} before it was ready:\n${log}`));
    });
    proc.stderr?.setEncoding('utf8');
    let ready = false;
    proc.stderr?.on('data', (chunk: string) => {
      onOutput?.(chunk);
      if (ready) return;
      if (log.length < 64_000) log += chunk;
      const m = LISTENING.exec(log);
      if (m?.[1] !== undefined) {
        ready = true;
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        resolve({ proc, port: Number(m[1]) });
      }
    });
  });
}
