/**
 * When to start a crashed process again: quickly the first time (a one-off crash), then less and
 * less often while it keeps crashing, so a broken build does not spin the CPU or flood the logs.
 */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  /** A process that stayed up this long counts as healthy again: its next crash starts over. */
  readonly resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 250,
  maxMs: 10_000,
  resetAfterMs: 30_000,
};

/** How many crashes in a row, counting this one, given how long the process had been up. */
export function consecutiveCrashes(
  previous: number,
  upMs: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): number {
  return upMs >= policy.resetAfterMs ? 1 : previous + 1;
}

/** The delay before restart number `crashes` of a row (1-based): initial, doubling, capped. */
export function restartDelayMs(crashes: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const doublings = Math.max(0, Math.min(crashes - 1, 30));
  return Math.min(policy.initialMs * 2 ** doublings, policy.maxMs);
}
