import { createHealth, createLifecycle } from '@netlab/shared';
import { silentLogger } from '@netlab/shared/testing';

function build(graceMs = 1000) {
  const health = createHealth({ service: 'static', instance: 's', defaultMetrics: false });
  const exit = jest.fn();
  const lifecycle = createLifecycle({ logger: silentLogger(), graceMs, health, exit });
  return { health, lifecycle, exit };
}

describe('createLifecycle', () => {
  it('runs shutdown hooks one after another in registration order and resolves 0', async () => {
    const { lifecycle } = build();
    const order: string[] = [];
    lifecycle.onShutdown('http', async () => {
      await new Promise((r) => setTimeout(r, 5));
      order.push('http');
    });
    lifecycle.onShutdown('nats', () => void order.push('nats'));
    await expect(lifecycle.shutdown('test')).resolves.toBe(0);
    expect(order).toEqual(['http', 'nats']);
  });

  it('marks readiness as draining before the first hook runs', async () => {
    const { lifecycle, health } = build();
    let drainingDuringHook = false;
    lifecycle.onShutdown('probe', () => void (drainingDuringHook = health.isDraining()));
    await lifecycle.shutdown('test');
    expect(drainingDuringHook).toBe(true);
  });

  it('shuts down once however often it is asked', async () => {
    const { lifecycle } = build();
    const hook = jest.fn();
    lifecycle.onShutdown('once', hook);
    const [a, b] = await Promise.all([lifecycle.shutdown('a'), lifecycle.shutdown('b')]);
    expect([a, b]).toEqual([0, 0]);
    expect(hook).toHaveBeenCalledTimes(1);
  });

  it('resolves 1 when a hook fails, still running the others', async () => {
    const { lifecycle } = build();
    const later = jest.fn();
    lifecycle.onShutdown('bad', () => {
      throw new Error('boom');
    });
    lifecycle.onShutdown('later', later);
    await expect(lifecycle.shutdown('test')).resolves.toBe(1);
    expect(later).toHaveBeenCalled();
  });

  it('gives up after the grace period with code 1 when work does not finish', async () => {
    const { lifecycle } = build(50);
    lifecycle.onShutdown('stuck', () => new Promise(() => undefined));
    await expect(lifecycle.shutdown('test')).resolves.toBe(1);
  });

  it('counts in-flight work, and a finished unit only once', () => {
    const { lifecycle } = build();
    const done = lifecycle.beginWork();
    lifecycle.beginWork();
    expect(lifecycle.inFlight()).toBe(2);
    done();
    done();
    expect(lifecycle.inFlight()).toBe(1);
    expect(lifecycle.status()).toMatchObject({ pid: process.pid, inFlight: 1, draining: false });
  });
});
