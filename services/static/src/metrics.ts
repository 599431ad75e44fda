import { Counter, Gauge, type Registry } from 'prom-client';

/** The static server's Prometheus metrics, registered on the runtime's registry. */
export interface StaticMetrics {
  /** One response with this status (health and metrics paths are not counted). */
  readonly response: (status: number) => void;
  /** Body bytes handed to the socket. */
  readonly bytes: (n: number) => void;
  readonly cacheHit: () => void;
  readonly cacheMiss: () => void;
  readonly cacheSize: (entries: number, bytes: number) => void;
}

/**
 * The hot path only adds to plain numbers; prom-client sees them when scraped (`collect`), so a
 * request costs no label hashing.
 */
export function createStaticMetrics(registry: Registry): StaticMetrics {
  const statusCounts = new Map<number, number>();
  const reported = new Map<number, number>();
  let sentBytes = 0;
  let sentReported = 0;
  let hits = 0;
  let misses = 0;
  let hitsReported = 0;
  let missesReported = 0;
  let cacheEntries = 0;
  let cacheBytes = 0;

  new Counter({
    name: 'static_responses_total',
    help: 'Responses by HTTP status (health and metrics paths excluded)',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      for (const [status, n] of statusCounts) {
        const delta = n - (reported.get(status) ?? 0);
        if (delta > 0) this.inc({ status: String(status) }, delta);
        reported.set(status, n);
      }
    },
  });
  new Counter({
    name: 'static_sent_bytes_total',
    help: 'Response body bytes handed to sockets',
    registers: [registry],
    collect() {
      this.inc(sentBytes - sentReported);
      sentReported = sentBytes;
    },
  });
  new Counter({
    name: 'static_cache_lookups_total',
    help: 'In-memory file cache lookups by result (hit, miss)',
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      this.inc({ result: 'hit' }, hits - hitsReported);
      this.inc({ result: 'miss' }, misses - missesReported);
      hitsReported = hits;
      missesReported = misses;
    },
  });
  new Gauge({
    name: 'static_cache_entries',
    help: 'Files held by the in-memory cache',
    registers: [registry],
    collect() {
      this.set(cacheEntries);
    },
  });
  new Gauge({
    name: 'static_cache_bytes',
    help: 'Bytes held by the in-memory cache',
    registers: [registry],
    collect() {
      this.set(cacheBytes);
    },
  });

  return {
    response: (status) => void statusCounts.set(status, (statusCounts.get(status) ?? 0) + 1),
    bytes: (n) => void (sentBytes += n),
    cacheHit: () => void (hits += 1),
    cacheMiss: () => void (misses += 1),
    cacheSize: (n, b) => {
      cacheEntries = n;
      cacheBytes = b;
    },
  };
}
