/**
 * The dashboard's memory of the last minutes of traffic: per series (a route, an instance) one
 * slot per second in a ring of typed arrays, each slot holding a request count, an error count
 * and a fixed-bucket latency histogram. Recording a request is O(1) and allocates nothing: it
 * finds the slot by `second % length`, clears it if it still holds an older second, and
 * increments three cells. Percentiles are read from summed histograms when someone looks.
 */

/** Lowest latency bucket bound, ms; everything faster lands in bucket 0. */
const FIRST_BOUND_MS = 0.05;
/** Each bucket is √2 wider than the one before: at most ±20% error after interpolation. */
const FACTOR = Math.SQRT2;
const LOG_FACTOR = Math.log(FACTOR);
/** 0.05 ms · √2^41 ≈ 74 s; the last bucket is open-ended. */
export const LATENCY_BUCKETS = 42;

/** Upper bound (ms) of each bucket but the last, which has none. */
export const LATENCY_BOUNDS_MS: readonly number[] = Array.from(
  { length: LATENCY_BUCKETS - 1 },
  (_, i) => FIRST_BOUND_MS * FACTOR ** i,
);

/** The histogram bucket of a latency in ms: the first whose upper bound is ≥ ms. */
export function latencyBucket(ms: number): number {
  if (!(ms > FIRST_BOUND_MS)) return 0;
  const i = Math.ceil(Math.log(ms / FIRST_BOUND_MS) / LOG_FACTOR - 1e-9);
  return i >= LATENCY_BUCKETS ? LATENCY_BUCKETS - 1 : i;
}

/**
 * The q-quantile (0 < q ≤ 1) of a histogram of `LATENCY_BUCKETS` counts starting at `offset`, in
 * ms, interpolated linearly inside the bucket it falls in (as Prometheus' histogram_quantile);
 * undefined when the histogram is empty. The open last bucket answers its lower bound.
 */
export function histogramQuantile(
  hist: ArrayLike<number>,
  q: number,
  offset = 0,
): number | undefined {
  let total = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) total += hist[offset + i]!;
  if (total === 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) {
    const n = hist[offset + i]!;
    if (n === 0) continue;
    if (seen + n >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
      if (i === LATENCY_BUCKETS - 1) return lower;
      const upper = LATENCY_BOUNDS_MS[i]!;
      return lower + ((upper - lower) * (rank - seen)) / n;
    }
    seen += n;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BUCKETS - 2];
}

/** A route, an instance, or everything the gateway proxied. */
export type SeriesKind = 'route' | 'instance' | 'total';

/** One route's or one instance's last `length` seconds. */
export interface TrafficSeries {
  readonly kind: SeriesKind;
  readonly key: string;
  /** What the page shows: the route or instance name (an instance may be renamed). */
  label: string;
  /** The service the route goes to, or the instance belongs to. */
  readonly service: string;
  /** Epoch second each slot holds; a slot with another second is stale (counts as zero). */
  readonly stamps: Float64Array;
  readonly requests: Uint32Array;
  readonly errors: Uint32Array;
  /** `LATENCY_BUCKETS` counts per slot, slot after slot. */
  readonly histogram: Uint32Array;
}

/** Per-second figures of one series, oldest first, one entry per second of the range. */
export interface SeriesPoints {
  requests: number[];
  errors: number[];
  /** ms, null for a second without requests. */
  p50: (number | null)[];
  p95: (number | null)[];
  p99: (number | null)[];
}

/** One series summed over a range of seconds. */
export interface SeriesSummary {
  requests: number;
  /** Requests per second over the range. */
  rps: number;
  errors: number;
  /** errors / requests, 0 without requests. */
  errorRate: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** A 5xx answer counts as an error: the gateway's own (502, 503, 504) and the upstream's. */
export function isErrorStatus(status: number): boolean {
  return status >= 500;
}

const round = (ms: number | undefined): number | null =>
  ms === undefined ? null : Math.round(ms * 100) / 100;

export class TrafficWindow {
  /** Seconds kept. */
  readonly length: number;
  readonly #series = new Map<string, TrafficSeries>();
  /** Scratch histogram for summaries; reused, never returned. */
  readonly #sum = new Float64Array(LATENCY_BUCKETS);

  constructor(seconds: number) {
    if (!Number.isInteger(seconds) || seconds < 2) {
      throw new RangeError(`a traffic window needs at least 2 whole seconds, not ${seconds}`);
    }
    this.length = seconds;
  }

  /** The series of a route or instance, created on first use (not per request: callers cache it). */
  series(kind: SeriesKind, key: string, label: string, service: string): TrafficSeries {
    const id = `${kind}\0${key}`;
    let s = this.#series.get(id);
    if (s === undefined) {
      s = {
        kind,
        key,
        label,
        service,
        stamps: new Float64Array(this.length).fill(-1),
        requests: new Uint32Array(this.length),
        errors: new Uint32Array(this.length),
        histogram: new Uint32Array(this.length * LATENCY_BUCKETS),
      };
      this.#series.set(id, s);
    }
    return s;
  }

  list(kind?: SeriesKind): TrafficSeries[] {
    const out: TrafficSeries[] = [];
    for (const s of this.#series.values()) if (kind === undefined || s.kind === kind) out.push(s);
    return out;
  }

  /** Forgets a series (an instance that left and has nothing left in the window). */
  drop(series: TrafficSeries): void {
    this.#series.delete(`${series.kind}\0${series.key}`);
  }

  /** Counts one finished request. O(1), no allocation. */
  record(s: TrafficSeries, nowMs: number, status: number, ms: number): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % this.length;
    const base = slot * LATENCY_BUCKETS;
    if (s.stamps[slot] !== second) {
      s.stamps[slot] = second;
      s.requests[slot] = 0;
      s.errors[slot] = 0;
      s.histogram.fill(0, base, base + LATENCY_BUCKETS);
    }
    s.requests[slot]!++;
    if (isErrorStatus(status)) s.errors[slot]!++;
    s.histogram[base + latencyBucket(ms)]!++;
  }

  /** Whether the series holds any request between `fromSecond` and `toSecond` (inclusive). */
  hasData(s: TrafficSeries, fromSecond: number, toSecond: number): boolean {
    for (let sec = Math.max(fromSecond, toSecond - this.length + 1); sec <= toSecond; sec++) {
      const slot = sec % this.length;
      if (s.stamps[slot] === sec && s.requests[slot]! > 0) return true;
    }
    return false;
  }

  /** Per-second figures from `fromSecond` to `toSecond` inclusive (seconds older than the window read as 0). */
  points(s: TrafficSeries, fromSecond: number, toSecond: number): SeriesPoints {
    const out: SeriesPoints = { requests: [], errors: [], p50: [], p95: [], p99: [] };
    for (let sec = fromSecond; sec <= toSecond; sec++) {
      const slot = sec % this.length;
      const live = sec > toSecond - this.length && s.stamps[slot] === sec;
      const n = live ? s.requests[slot]! : 0;
      out.requests.push(n);
      out.errors.push(live ? s.errors[slot]! : 0);
      if (n === 0) {
        out.p50.push(null);
        out.p95.push(null);
        out.p99.push(null);
        continue;
      }
      const base = slot * LATENCY_BUCKETS;
      out.p50.push(round(histogramQuantile(s.histogram, 0.5, base)));
      out.p95.push(round(histogramQuantile(s.histogram, 0.95, base)));
      out.p99.push(round(histogramQuantile(s.histogram, 0.99, base)));
    }
    return out;
  }

  /** The series summed over `fromSecond`..`toSecond`: rates and percentiles of the whole range. */
  summary(s: TrafficSeries, fromSecond: number, toSecond: number): SeriesSummary {
    const sum = this.#sum.fill(0);
    let requests = 0;
    let errors = 0;
    const from = Math.max(fromSecond, toSecond - this.length + 1);
    for (let sec = from; sec <= toSecond; sec++) {
      const slot = sec % this.length;
      if (s.stamps[slot] !== sec) continue;
      requests += s.requests[slot]!;
      errors += s.errors[slot]!;
      const base = slot * LATENCY_BUCKETS;
      for (let i = 0; i < LATENCY_BUCKETS; i++) sum[i]! += s.histogram[base + i]!;
    }
    const seconds = toSecond - fromSecond + 1;
    return {
      requests,
      rps: Math.round((requests / seconds) * 100) / 100,
      errors,
      errorRate: requests === 0 ? 0 : Math.round((errors / requests) * 10_000) / 10_000,
      p50: round(histogramQuantile(sum, 0.5)),
      p95: round(histogramQuantile(sum, 0.95)),
      p99: round(histogramQuantile(sum, 0.99)),
    };
  }
}

/** A gauge sampled once a second (open TCP connections, …), kept for the same window. */
export class GaugeRing {
  readonly length: number;
  readonly #stamps: Float64Array;
  readonly #values: Float64Array;

  constructor(seconds: number) {
    this.length = seconds;
    this.#stamps = new Float64Array(seconds).fill(-1);
    this.#values = new Float64Array(seconds);
  }

  set(nowMs: number, value: number): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % this.length;
    this.#stamps[slot] = second;
    this.#values[slot] = value;
  }

  /** Values from `fromSecond` to `toSecond`; null where nothing was sampled. */
  points(fromSecond: number, toSecond: number): (number | null)[] {
    const out: (number | null)[] = [];
    for (let sec = fromSecond; sec <= toSecond; sec++) {
      const slot = sec % this.length;
      const live = sec > toSecond - this.length && this.#stamps[slot] === sec;
      out.push(live ? this.#values[slot]! : null);
    }
    return out;
  }
}
