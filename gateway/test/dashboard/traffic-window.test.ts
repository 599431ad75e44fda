import {
  GaugeRing,
  histogramQuantile,
  LATENCY_BOUNDS_MS,
  LATENCY_BUCKETS,
  latencyBucket,
  TrafficWindow,
} from '../../src/dashboard/traffic-window';

const T0 = 1_800_000_000_000; // an epoch ms on a whole second

describe('latency buckets', () => {
  it('puts a latency in the first bucket whose upper bound is at least it', () => {
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(0.05)).toBe(0);
    for (let i = 1; i < LATENCY_BOUNDS_MS.length; i++) {
      const bound = LATENCY_BOUNDS_MS[i]!;
      expect(latencyBucket(bound)).toBe(i);
      expect(latencyBucket(bound * 1.01)).toBe(i + 1);
    }
  });

  it('sends anything beyond the last bound (and NaN-free huge values) to the open last bucket', () => {
    expect(latencyBucket(1e9)).toBe(LATENCY_BUCKETS - 1);
    expect(latencyBucket(Number.POSITIVE_INFINITY)).toBe(LATENCY_BUCKETS - 1);
  });

  it('estimates percentiles within one bucket width of the truth', () => {
    const hist = new Uint32Array(LATENCY_BUCKETS);
    const samples: number[] = [];
    // 1..1000 ms, uniformly: p50 = 500, p95 = 950, p99 = 990.
    for (let ms = 1; ms <= 1000; ms++) {
      samples.push(ms);
      hist[latencyBucket(ms)]!++;
    }
    for (const [q, truth] of [
      [0.5, 500],
      [0.95, 950],
      [0.99, 990],
    ] as const) {
      const estimate = histogramQuantile(hist, q)!;
      // A bucket is √2 wide: the estimate is within a factor √2 of the truth.
      expect(estimate).toBeGreaterThan(truth / Math.SQRT2);
      expect(estimate).toBeLessThan(truth * Math.SQRT2);
    }
    expect(histogramQuantile(new Uint32Array(LATENCY_BUCKETS), 0.5)).toBeUndefined();
  });
});

describe('TrafficWindow', () => {
  it('counts requests and errors per second and answers percentiles per second', () => {
    const w = new TrafficWindow(10);
    const s = w.series('route', 'static', 'static', 'static');
    const sec = T0 / 1000;
    for (let i = 0; i < 99; i++) w.record(s, T0 + 10, 200, 2);
    w.record(s, T0 + 900, 503, 800);
    w.record(s, T0 + 1500, 200, 1);
    const p = w.points(s, sec, sec + 2);
    expect(p.requests).toEqual([100, 1, 0]);
    expect(p.errors).toEqual([1, 0, 0]);
    expect(p.p50[0]).toBeGreaterThan(1.4);
    expect(p.p50[0]).toBeLessThanOrEqual(2.83);
    expect(p.p99[0]).toBeLessThan(3);
    expect(p.p50[2]).toBeNull();
    const sum = w.summary(s, sec, sec + 1);
    expect(sum).toMatchObject({ requests: 101, errors: 1, rps: 50.5 });
    expect(sum.errorRate).toBeCloseTo(1 / 101, 4);
  });

  it('forgets a second once the ring comes round to its slot again', () => {
    const w = new TrafficWindow(5);
    const s = w.series('instance', 'k', 'static-1', 'static');
    const sec = T0 / 1000;
    w.record(s, T0, 200, 1);
    w.record(s, T0, 200, 1);
    // Five seconds later the same slot holds the new second only.
    w.record(s, T0 + 5000, 200, 1);
    expect(w.points(s, sec + 5, sec + 5).requests).toEqual([1]);
    // The old second is outside the window: it reads as zero, not as the slot's new count.
    expect(w.points(s, sec, sec).requests).toEqual([0]);
    expect(w.summary(s, sec, sec + 5).requests).toBe(1);
    expect(w.hasData(s, sec + 1, sec + 4)).toBe(false);
    expect(w.hasData(s, sec + 1, sec + 5)).toBe(true);
  });

  it('reads seconds older than the window as zero even if a stale slot still holds them', () => {
    const w = new TrafficWindow(4);
    const s = w.series('route', 'r', 'r', 'svc');
    const sec = T0 / 1000;
    w.record(s, T0, 200, 1);
    // Asked for a range ending 10 s later, the old second is out of the window.
    const p = w.points(s, sec, sec + 10);
    expect(p.requests.reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('keeps one series per kind and key, and drops it on request', () => {
    const w = new TrafficWindow(3);
    const a = w.series('route', 'x', 'x', 's');
    expect(w.series('route', 'x', 'x', 's')).toBe(a);
    expect(w.series('instance', 'x', 'x', 's')).not.toBe(a);
    expect(w.list('route')).toEqual([a]);
    w.drop(a);
    expect(w.list('route')).toEqual([]);
  });

  it('refuses a window shorter than two seconds', () => {
    expect(() => new TrafficWindow(1)).toThrow(RangeError);
  });

  it('holds a fixed amount of memory whatever the traffic', () => {
    const w = new TrafficWindow(60);
    const s = w.series('route', 'r', 'r', 'svc');
    const before = s.histogram.byteLength + s.requests.byteLength + s.stamps.byteLength;
    for (let i = 0; i < 100_000; i++) w.record(s, T0 + i * 7, i % 10 === 0 ? 500 : 200, i % 300);
    expect(s.histogram.byteLength + s.requests.byteLength + s.stamps.byteLength).toBe(before);
    const last = Math.floor((T0 + 99_999 * 7) / 1000);
    const sum = w.summary(s, last - 59, last);
    // 60 full seconds of ~143 requests each, one in ten an error.
    expect(sum.requests).toBeGreaterThan(8000);
    expect(sum.errorRate).toBeCloseTo(0.1, 1);
  });
});

describe('GaugeRing', () => {
  it('answers the sampled value per second and null where nothing was sampled', () => {
    const g = new GaugeRing(4);
    const sec = T0 / 1000;
    g.set(T0, 3);
    g.set(T0 + 2000, 5);
    expect(g.points(sec, sec + 3)).toEqual([3, null, 5, null]);
    g.set(T0 + 4000, 7); // overwrites the slot of sec
    expect(g.points(sec, sec + 4)).toEqual([null, null, 5, null, 7]);
  });
});
