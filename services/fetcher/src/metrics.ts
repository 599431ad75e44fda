import { Counter, Gauge, type Metric, type Registry } from 'prom-client';

/**
 * The fetcher's Prometheus metrics, on the runtime's registry (served at /metrics). The per-fetch
 * counters are plain numbers copied into prom-client when scraped: its labelled `inc` hashes the
 * labels on every call, several times per fetch.
 */
export interface FetcherMetrics {
  /**
   * One finished fetch: fetcher_fetches_total by `via` (http, stream, nats, download, cli) and
   * `outcome` (ok or a code), and its duration.
   */
  fetched(via: string, outcome: string, seconds: number): void;
  /** Body bytes received (fetcher_body_bytes_total `wire`) and after decoding (`decoded`). */
  bodyBytes(wire: number, decoded: number): void;
  /** Connections refused by the address policy, by ipaddr.js range. */
  readonly denied: Counter<'range'>;
  readonly retries: Counter;
  readonly redirects: Counter;
  readonly running: Gauge;
  readonly queued: Gauge;
  readonly downloadsActive: Gauge;
}

export function createFetcherMetrics(
  registry: Registry,
  stats: { limiter: () => { running: number; queued: number }; downloads: () => number },
): FetcherMetrics {
  const registers = [registry];
  const fetches = new Map<string, Map<string, number>>();
  const bytes = { wire: 0, decoded: 0 };
  new Counter({
    name: 'fetcher_fetches_total',
    help: 'Fetches finished, by interface and outcome (ok or an error code)',
    labelNames: ['via', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const [via, outcomes] of fetches)
        for (const [outcome, n] of outcomes) this.inc({ via, outcome }, n);
    },
  });
  new Counter({
    name: 'fetcher_body_bytes_total',
    help: 'Response body bytes, as received (wire) and decoded',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      this.inc({ kind: 'wire' }, bytes.wire);
      this.inc({ kind: 'decoded' }, bytes.decoded);
    },
  });
  const duration = createHistogram(registry, {
    name: 'fetcher_fetch_duration_seconds',
    help: 'Time from accepting a fetch to its response headers (inline: to the whole body)',
    label: 'via',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  return {
    fetched(via, outcome, seconds) {
      let outcomes = fetches.get(via);
      if (outcomes === undefined) fetches.set(via, (outcomes = new Map<string, number>()));
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      duration.observe(via, seconds);
    },
    bodyBytes(wire, decoded) {
      bytes.wire += wire;
      bytes.decoded += decoded;
    },
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

/** What prom-client's registry reads from a metric's get() (its own histograms give the same). */
interface ExportedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}
interface ExportedMetric {
  name: string;
  help: string;
  type: 'histogram';
  values: ExportedValue[];
  aggregator: 'sum';
}

interface HistogramSeries {
  /** Per bucket, not cumulative; the last one is above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram with one label, counted in plain arrays and exported in prom-client's format when
 * scraped: prom-client's `observe` allocates a closure and a label object and hashes the labels
 * on every call, once per fetch here.
 */
function createHistogram(
  registry: Registry,
  o: { name: string; help: string; label: string; buckets: number[] },
): { observe(labelValue: string, value: number): void } {
  const series = new Map<string, HistogramSeries>();
  const metric = {
    name: o.name,
    help: o.help,
    type: 'histogram',
    aggregator: 'sum',
    get(): Promise<ExportedMetric> {
      const values: ExportedValue[] = [];
      for (const [labelValue, s] of series) {
        let cumulative = 0;
        o.buckets.forEach((le, i) => {
          cumulative += s.counts[i]!;
          values.push({
            labels: { [o.label]: labelValue, le },
            value: cumulative,
            metricName: `${o.name}_bucket`,
          });
        });
        values.push(
          {
            labels: { [o.label]: labelValue, le: '+Inf' },
            value: s.count,
            metricName: `${o.name}_bucket`,
          },
          {
            labels: { [o.label]: labelValue },
            value: s.sum,
            metricName: `${o.name}_sum`,
          },
          {
            labels: { [o.label]: labelValue },
            value: s.count,
            metricName: `${o.name}_count`,
          },
        );
      }
      return Promise.resolve({
        name: o.name,
        help: o.help,
        type: 'histogram',
        values,
        aggregator: 'sum',
      });
    },
  };
  // The registry formats any metric by its get(); its type names only its own classes.
  registry.registerMetric(metric as unknown as Metric);
  return {
    observe(labelValue, value) {
      let s = series.get(labelValue);
      if (s === undefined) {
        s = { counts: new Array<number>(o.buckets.length + 1).fill(0), sum: 0, count: 0 };
        series.set(labelValue, s);
      }
      let i = 0;
      while (i < o.buckets.length && value > o.buckets[i]!) i++;
      s.counts[i]! += 1;
      s.sum += value;
      s.count += 1;
    },
  };
}
