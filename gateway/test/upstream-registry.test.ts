import { createServer } from 'node:http';
import { listen, silentLogger, waitFor } from '@netlab/shared/testing';
import { createUpstreamRegistry, type UpstreamRegistry } from '../src/upstream-registry';
import { testSettings, startUpstream, type Upstream } from './helpers';

jest.setTimeout(15_000);

describe('the upstream registry', () => {
  let registry: UpstreamRegistry;
  const ups: Upstream[] = [];
  afterEach(async () => {
    await registry.close();
    await Promise.all(ups.splice(0).map((u) => u.close()));
  });

  const start = async (n: number, balancer: 'p2c' | 'round-robin' = 'p2c') => {
    registry = createUpstreamRegistry({
      settings: testSettings({ balancer, unhealthyAfter: 2, ejectAfter: 3 }),
      logger: silentLogger(),
    });
    for (let i = 0; i < n; i++) {
      const up = await startUpstream(`u${i}`);
      ups.push(up);
      registry.add({ service: 'static', http: up.url }, 'static');
    }
    await waitFor('all healthy', () => registry.list('static').every((i) => i.state === 'healthy'));
    return registry.list('static');
  };

  it('gives no traffic to an instance before its first probe succeeds', () => {
    registry = createUpstreamRegistry({ settings: testSettings(), logger: silentLogger() });
    registry.add({ service: 'static', http: 'http://127.0.0.1:9' }, 'static');
    expect(registry.pick('static')).toBeUndefined();
  });

  it('picks the less loaded of two choices (least outstanding)', async () => {
    const [a, b] = await start(2);
    a!.outstanding = 5;
    for (let i = 0; i < 20; i++) expect(registry.pick('static')).toBe(b);
    expect(registry.pick('static', b)).toBe(a);
  });

  it('goes round robin when asked', async () => {
    const [a, b, c] = await start(3, 'round-robin');
    const picks = Array.from({ length: 6 }, () => registry.pick('static'));
    expect(picks).toEqual([a, b, c, a, b, c]);
  });

  it('ejects on a refused connection at once, on other failures after EJECT_AFTER, and re-admits after a probe', async () => {
    const [a] = await start(1);
    registry.reportFailure(a!, 'reset');
    registry.reportFailure(a!, 'reset');
    expect(a!.state).toBe('healthy');
    registry.reportFailure(a!, 'reset');
    expect(a!.state).toBe('ejected');
    expect(registry.pick('static')).toBeUndefined();
    await waitFor('the probe to re-admit it', () => a!.state === 'healthy');

    registry.reportFailure(a!, 'connect');
    expect(a!.state).toBe('ejected');
    await waitFor('the probe to re-admit it again', () => a!.state === 'healthy');
  });

  it('takes an instance out as soon as its readiness answers 503, and back when it is ready', async () => {
    const [a] = await start(1);
    ups[0]!.ready = false;
    await waitFor('unhealthy', () => a!.state === 'unhealthy');
    expect(a!.lastProbe).toMatchObject({ ok: false, detail: '/-/readyz answered 503' });
    ups[0]!.ready = true;
    await waitFor('healthy again', () => a!.state === 'healthy');
  });

  it('needs UNHEALTHY_AFTER silent probes in a row before giving up on an instance', async () => {
    registry = createUpstreamRegistry({
      settings: testSettings({ unhealthyAfter: 3, healthTimeoutMs: 100 }),
      logger: silentLogger(),
    });
    let answer = true;
    const server = createServer((req, res) => {
      if (answer) res.end('ok');
    });
    const { port } = await listen(server, 0, '127.0.0.1');
    try {
      const inst = registry.add({ service: 'dynamic', http: `http://127.0.0.1:${port}` }, 'static');
      await waitFor('healthy', () => inst.state === 'healthy');
      answer = false;
      await waitFor('two silent probes', () => inst.probeFailures === 2);
      expect(inst.state).toBe('healthy');
      await waitFor('the third', () => inst.probeFailures >= 3);
      expect(inst.state).toBe('unhealthy');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('keeps probing a busy instance on a connection of its own, so busy never reads as dead', async () => {
    registry = createUpstreamRegistry({
      settings: testSettings({ upstreamMaxConnections: 1, healthTimeoutMs: 200 }),
      logger: silentLogger(),
    });
    let release: (() => void) | undefined;
    const busy = await startUpstream('busy', (_req, res) => {
      release = () => res.end('done');
    });
    ups.push(busy);
    const inst = registry.add({ service: 'static', http: busy.url }, 'static');
    await waitFor('healthy', () => inst.state === 'healthy');
    // Take the pool's only connection with a request that does not end...
    inst.pool!.dispatch(
      {
        method: 'GET',
        path: '/hold',
        headerLines: 'host: busy\r\n',
        body: null,
        contentLength: -1,
        headersTimeoutMs: 0,
        bodyTimeoutMs: 0,
      },
      {
        onStart: () => undefined,
        onHead: () => undefined,
        onData: () => true,
        onEnd: () => undefined,
        onError: () => undefined,
      },
    );
    await waitFor('the request to hold the connection', () => busy.seen.length === 1);
    // ...and let several probes run meanwhile.
    const probed = inst.lastProbe?.at;
    await waitFor('later probes', () => inst.lastProbe?.at !== probed && inst.probeFailures === 0);
    await new Promise((r) => setTimeout(r, 500));
    expect(inst.state).toBe('healthy');
    expect(inst.probeFailures).toBe(0);
    release?.();
  });

  it('merges sources by address and removes an instance when its last source goes', async () => {
    const [a] = await start(1);
    const again = registry.add(
      { service: 'static', http: ups[0]!.url, id: 'NATSID', name: 'static-1' },
      'nats',
    );
    expect(again).toBe(a);
    expect(a!.name).toBe('static-1');
    expect(registry.findByNatsId('NATSID')).toBe(a);
    registry.remove(a!, 'nats');
    expect(registry.list('static')).toHaveLength(1);
    registry.remove(a!, 'static');
    expect(registry.list('static')).toHaveLength(0);
    expect(registry.pick('static')).toBeUndefined();
  });
});
