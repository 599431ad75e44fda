import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls until `probe` returns something other than undefined/false, or fails after `timeoutMs`
 * with `what` in the message. For conditions that settle asynchronously (a reconnect, a restart);
 * never to measure time.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out waiting for ${what}${why}`);
    }
    await sleep(opts.intervalMs ?? 50);
  }
}
