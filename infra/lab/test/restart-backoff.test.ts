import { consecutiveCrashes, DEFAULT_BACKOFF, restartDelayMs } from '../src/restart-backoff';

describe('restartDelayMs', () => {
  it('starts at 250 ms and doubles up to the 10 s cap', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => restartDelayMs(n));
    expect(delays).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  it('stays at the cap for a very long crash loop', () => {
    expect(restartDelayMs(10_000)).toBe(DEFAULT_BACKOFF.maxMs);
  });

  it('follows a custom policy', () => {
    expect(restartDelayMs(3, { initialMs: 10, maxMs: 25, resetAfterMs: 100 })).toBe(25);
  });
});

describe('consecutiveCrashes', () => {
  it('counts crashes that follow each other quickly', () => {
    expect(consecutiveCrashes(0, 100)).toBe(1);
    expect(consecutiveCrashes(3, 29_999)).toBe(4);
  });

  it('starts over after the process stayed up 30 s', () => {
    expect(consecutiveCrashes(7, 30_000)).toBe(1);
  });
});
