import { silentLogger, waitFor } from '@netlab/shared/testing';
import { createStartupGate } from '../src/startup-gate';
import { createUpstreamRegistry, type UpstreamRegistry } from '../src/upstream-registry';
import { startUpstream, testSettings, type Upstream } from './helpers';

describe('the startup gate (STARTUP_WAIT)', () => {
  let registry: UpstreamRegistry;
  const ups: Upstream[] = [];
  beforeEach(() => {
    registry = createUpstreamRegistry({ settings: testSettings(), logger: silentLogger() });
  });
  afterEach(async () => {
    await registry.close();
    await Promise.all(ups.splice(0).map((u) => u.close()));
  });

  it('is open, and holds nothing, until begun', () => {
    const gate = createStartupGate(registry, 10_000);
    expect(gate.isOpen()).toBe(true);
    expect(gate.hold('static', () => undefined)).toBe(false);
  });

  it('releases held requests of a service when its first instance turns healthy, and opens once discovery reported and every known instance was probed', async () => {
    const gate = createStartupGate(registry, 10_000);
    gate.begin();
    const released: string[] = [];
    expect(gate.hold('static', () => released.push('static'))).toBe(true);
    expect(gate.hold('dynamic', () => released.push('dynamic'))).toBe(true);

    const ready = await startUpstream('a');
    const draining = await startUpstream('b');
    draining.ready = false;
    ups.push(ready, draining);
    registry.add({ service: 'static', http: ready.url }, 'static');
    registry.add({ service: 'dynamic', http: draining.url }, 'static');
    await waitFor('the static request to be released', () => released.includes('static'));
    // Discovery has not reported yet: still shut, and dynamic has nothing healthy to go to.
    expect(gate.isOpen()).toBe(false);
    expect(released).toEqual(['static']);

    await waitFor('the draining instance to be probed', () =>
      registry.list('dynamic').every((i) => i.state !== 'unknown'),
    );
    gate.sourcesKnown();
    // Everything known was probed: open, and what still waited is released (to get its 503).
    expect(gate.isOpen()).toBe(true);
    expect(released).toEqual(['static', 'dynamic']);
    expect(gate.hold('static', () => undefined)).toBe(false);
  });

  it('opens when STARTUP_WAIT is over, whatever discovery did', async () => {
    const gate = createStartupGate(registry, 100);
    gate.begin();
    let released = false;
    gate.hold('static', () => (released = true));
    await waitFor('the wait to end', () => gate.isOpen(), { timeoutMs: 2000 });
    expect(released).toBe(true);
  });
});
