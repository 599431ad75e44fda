import { createRateLimiter } from '../src/rate-limiter';

describe('createRateLimiter', () => {
  it('lets a burst through, then asks the client to wait, then refills', () => {
    const limiter = createRateLimiter({ ratePerSecond: 2, burst: 3 });
    const t0 = 1_000_000;
    expect([1, 2, 3].map(() => limiter.take('10.0.0.1', t0))).toEqual([0, 0, 0]);
    expect(limiter.take('10.0.0.1', t0)).toBe(1);
    // Other clients have buckets of their own.
    expect(limiter.take('10.0.0.2', t0)).toBe(0);
    // Half a second later one token (2/s) has come back.
    expect(limiter.take('10.0.0.1', t0 + 500)).toBe(0);
    expect(limiter.take('10.0.0.1', t0 + 500)).toBe(1);
  });

  it('says how many whole seconds to wait at slow rates', () => {
    const limiter = createRateLimiter({ ratePerSecond: 0.2, burst: 1 });
    expect(limiter.take('a', 0)).toBe(0);
    expect(limiter.take('a', 0)).toBe(5);
  });

  it('forgets clients whose bucket is full again, and never tracks more than maxClients', () => {
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 10, maxClients: 100 });
    for (let i = 0; i < 500; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`, 0);
    expect(limiter.size()).toBeLessThanOrEqual(101);
    limiter.take('late', 60_000);
    expect(limiter.size()).toBe(1);
  });
});
