import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The fetcher's Prometheus metrics, on the runtime's registry (served at /metrics). */
export interface FetcherMetrics {
  /** One per finished fetch: `via` (http, stream, nats, download, cli), `outcome` (ok or a code). */
  readonly fetches: Counter<'via' | 'outcome'>;
  readonly duration: Histogram<'via'>;
  /** Connections refused by the address policy, by ipaddr.js range. */
  readonly denied: Counter<'range'>;
  readonly retries: Counter;
  readonly redirects: Counter;
  /** Body bytes received (`wire`) and after decoding (`decoded`). */
  readonly bytes: Counter<'kind'>;
  readonly running: Gauge;
  readonly queued: Gauge;
  readonly downloadsActive: Gauge;
}

export function createFetcherMetrics(
  registry: Registry,
  stats: { limiter: () => { running: number; queued: number }; downloads: () => number },
): FetcherMetrics {
  const registers = [registry];
  return {
    fetches: new Counter({
      name: 'fetcher_fetches_total',
      help: 'Fetches finished, by interface and outcome (ok or an error code)',
      labelNames: ['via', 'outcome'],
      registers,
    }),
    duration: new Histogram({
      name: 'fetcher_fetch_duration_seconds',
      help: 'Time from accepting a fetch to its response headers (inline: to the whole body)',
      labelNames: ['via'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    denied: new Counter({
      name: 'fetcher_destinations_denied_total',
      help: 'Connections refused by the SSRF address policy, by address range',
      labelNames: ['range'],
      registers,
    }),
    retries: new Counter({ name: 'fetcher_retries_total', help: 'Retried attempts', registers }),
    redirects: new Counter({
      name: 'fetcher_redirects_total',
      help: 'Redirects followed',
      registers,
    }),
    bytes: new Counter({
      name: 'fetcher_body_bytes_total',
      help: 'Response body bytes, as received (wire) and decoded',
      labelNames: ['kind'],
      registers,
    }),
    running: new Gauge({
      name: 'fetcher_fetches_running',
      help: 'Fetches holding a concurrency slot',
      registers,
      collect() {
        this.set(stats.limiter().running);
      },
    }),
    queued: new Gauge({
      name: 'fetcher_fetches_queued',
      help: 'Fetches waiting for a concurrency slot',
      registers,
      collect() {
        this.set(stats.limiter().queued);
      },
    }),
    downloadsActive: new Gauge({
      name: 'fetcher_downloads_active',
      help: 'Downloads running',
      registers,
      collect() {
        this.set(stats.downloads());
      },
    }),
  };
}
