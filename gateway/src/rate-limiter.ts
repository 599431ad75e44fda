/**
 * A token bucket per client IP: `burst` requests at once, refilled at `ratePerSecond`. Buckets
 * that have refilled completely carry no information and are swept, so memory follows the number
 * of recently active clients (bounded by `maxClients`: past it, the fullest buckets go first).
 */
export interface RateLimiter {
  /** 0 when the request may pass, else the seconds to wait (for `Retry-After`). */
  take(ip: string, nowMs: number): number;
  /** Clients currently tracked. */
  size(): number;
}

export interface RateLimiterOptions {
  ratePerSecond: number;
  burst: number;
  maxClients?: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

const SWEEP_EVERY_MS = 10_000;

export function createRateLimiter(opts: RateLimiterOptions): RateLimiter {
  const { ratePerSecond: rate, burst } = opts;
  const maxClients = opts.maxClients ?? 100_000;
  const refillMs = (burst / rate) * 1000;
  const buckets = new Map<string, Bucket>();
  let lastSweepMs = 0;

  const sweep = (nowMs: number): void => {
    lastSweepMs = nowMs;
    for (const [ip, b] of buckets) if (nowMs - b.updatedMs >= refillMs) buckets.delete(ip);
    // Still too many active clients: drop the oldest-touched (Map keeps insertion order).
    for (const ip of buckets.keys()) {
      if (buckets.size <= maxClients) break;
      buckets.delete(ip);
    }
  };

  return {
    take(ip, nowMs) {
      if (nowMs - lastSweepMs > SWEEP_EVERY_MS || buckets.size > maxClients) sweep(nowMs);
      let b = buckets.get(ip);
      if (b === undefined) {
        b = { tokens: burst, updatedMs: nowMs };
        buckets.set(ip, b);
      } else {
        b.tokens = Math.min(burst, b.tokens + ((nowMs - b.updatedMs) / 1000) * rate);
        b.updatedMs = nowMs;
      }
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / rate));
    },
    size: () => buckets.size,
  };
}
