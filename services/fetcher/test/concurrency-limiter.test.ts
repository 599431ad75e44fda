import { createConcurrencyLimiter } from '../src/concurrency-limiter';

const limits = { global: 2, perHost: 1, queue: 2, hostQueue: 1, retryAfterS: 3 };

describe('createConcurrencyLimiter', () => {
  it('runs up to the per-host limit and queues the rest in order', async () => {
    const limiter = createConcurrencyLimiter(limits);
    const a1 = await limiter.acquire('a');
    let granted = false;
    const a2 = limiter.acquire('a').then((r) => ((granted = true), r));
    await Promise.resolve();
    expect(granted).toBe(false);
    expect(limiter.stats()).toEqual({ running: 1, queued: 1 });
    a1();
    (await a2)();
    expect(granted).toBe(true);
    expect(limiter.stats()).toEqual({ running: 0, queued: 0 });
  });

  it('refuses with FETCH_HOST_BUSY past the host queue, and FETCH_BUSY past the global queue', async () => {
    const limiter = createConcurrencyLimiter(limits);
    await limiter.acquire('a');
    await limiter.acquire('b');
    void limiter.acquire('a');
    await expect(limiter.acquire('a')).rejects.toMatchObject({
      code: 'FETCH_HOST_BUSY',
      retryAfterS: 3,
    });
    void limiter.acquire('c');
    await expect(limiter.acquire('d')).rejects.toMatchObject({
      code: 'FETCH_BUSY',
      retryAfterS: 3,
    });
  });

  it('lets a waiter for another host pass one whose host is saturated', async () => {
    const limiter = createConcurrencyLimiter({ ...limits, global: 3, queue: 5 });
    const a = await limiter.acquire('a');
    const b = await limiter.acquire('b');
    const order: string[] = [];
    const waitA = limiter.acquire('a').then((r) => (order.push('a'), r));
    const waitC = limiter.acquire('c').then((r) => (order.push('c'), r));
    await waitC;
    expect(order).toEqual(['c']);
    a();
    await waitA;
    expect(order).toEqual(['c', 'a']);
    b();
  });

  it('removes an aborted waiter from the queue and rejects with the reason', async () => {
    const limiter = createConcurrencyLimiter(limits);
    const held = await limiter.acquire('a');
    const controller = new AbortController();
    const waiting = limiter.acquire('a', controller.signal);
    controller.abort(new Error('deadline'));
    await expect(waiting).rejects.toThrow('deadline');
    expect(limiter.stats().queued).toBe(0);
    held();
    held();
    expect(limiter.stats().running).toBe(0);
  });
});
