import { get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** One GET; true on 200. Never keeps a connection open (it would hold up the part's shutdown). */
export function probeReady(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(
      url,
      { agent: false, headers: { connection: 'close' }, timeout: timeoutMs },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
  });
}

/**
 * Polls `url` until it answers 200. Resolves 'ready', 'timeout' after `timeoutMs`, or 'cancelled'
 * as soon as `isCancelled()` (the process exited, or the lab is stopping).
 */
export async function waitUntilReady(
  url: string,
  opts: { timeoutMs: number; intervalMs?: number; isCancelled: () => boolean },
): Promise<'ready' | 'timeout' | 'cancelled'> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 100;
  for (;;) {
    if (opts.isCancelled()) return 'cancelled';
    if (await probeReady(url, Math.min(1_000, opts.timeoutMs))) {
      return opts.isCancelled() ? 'cancelled' : 'ready';
    }
    if (Date.now() >= deadline) return 'timeout';
    await sleep(interval);
  }
}
