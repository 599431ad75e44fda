import { connect as connectTcp, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { Agent, request } from 'undici';
import { CONFIG_BUCKET, configKeys } from '@netlab/shared';
import { startNatsServer, waitFor, type NatsServerHandle } from '@netlab/shared/testing';
import {
  spawnGateway,
  startNatsInstance,
  type GatewayProcess,
  type NatsInstance,
} from './processes';

jest.setTimeout(60_000);

const agent = new Agent({ keepAliveTimeout: 500 });
afterAll(() => agent.close());

async function servedBy(
  gw: GatewayProcess,
  path = '/x',
): Promise<{ status: number; body: string }> {
  const res = await request(`${gw.url}${path}`, { dispatcher: agent });
  return { status: res.statusCode, body: await res.body.text() };
}

describe('discovery over NATS (real nats-server, real gateway process)', () => {
  let nats: NatsServerHandle;
  let gw: GatewayProcess | undefined;
  const instances: NatsInstance[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterEach(async () => {
    await gw?.stop('SIGKILL');
    gw = undefined;
    if (!nats.isRunning()) await nats.restart();
    await Promise.all(instances.splice(0).map((i) => i.stop().catch(() => undefined)));
  });
  afterAll(async () => {
    await nats.dispose();
  });

  it('finds an instance that was there first, and gives a newcomer traffic within 2 s', async () => {
    const first = await startNatsInstance('static', 'static-1', nats.url);
    instances.push(first);
    gw = await spawnGateway({ NATS_URL: nats.url });
    await waitFor(
      'static-1 to be found by the $SRV.INFO sweep',
      async () => (await servedBy(gw!)).body === 'static-1',
    );

    const second = await startNatsInstance('static', 'static-2', nats.url);
    instances.push(second);
    // The `up` event and an immediate probe: well within the 2 seconds.
    await waitFor(
      'static-2 to get traffic',
      async () => {
        await servedBy(gw!);
        return second.hits > 0;
      },
      { timeoutMs: 2000, intervalMs: 20 },
    );
    const ups = (await (
      await request(`${gw.url}/-/upstreams`, { dispatcher: agent })
    ).body.json()) as {
      services: Record<string, { name: string; sources: string[]; state: string }[]>;
    };
    // Found by the sweep, the first is known by its NATS id ($SRV.INFO carries no instance name).
    expect(ups.services.static!.map((i) => i.name).sort()).toEqual(
      [first.service.info().id, 'static-2'].sort(),
    );
    expect(ups.services.static!.every((i) => i.sources.includes('nats'))).toBe(true);
  });

  it('answers its very first requests from the instances it discovers, not 503 (a restart under load)', async () => {
    const inst = await startNatsInstance('static', 'static-1', nats.url);
    instances.push(inst);
    // spawnGateway returns as soon as the gateway says it listens: before its first sweep.
    gw = await spawnGateway({ NATS_URL: nats.url });
    const first = await Promise.all([servedBy(gw), servedBy(gw, '/y')]);
    expect(first).toEqual([
      { status: 200, body: 'static-1' },
      { status: 200, body: 'static-1' },
    ]);
    const ready = await request(`${gw.url}/-/readyz`, { dispatcher: agent });
    expect(ready.statusCode).toBe(200);
    expect(await ready.body.json()).toMatchObject({ checks: { 'upstreams discovered': 'ok' } });
  });

  it('loses no GET while an instance stops under load', async () => {
    const a = await startNatsInstance('static', 'static-a', nats.url);
    const b = await startNatsInstance('static', 'static-b', nats.url);
    instances.push(a);
    gw = await spawnGateway({ NATS_URL: nats.url });
    await waitFor('both to get traffic', async () => {
      await servedBy(gw!);
      return a.hits > 0 && b.hits > 0;
    });
    const statuses: number[] = [];
    let stopping: Promise<void> | undefined;
    // Four clients in parallel, 300 requests in all; static-b leaves a third of the way in.
    await Promise.all(
      [0, 1, 2, 3].map(async (worker) => {
        for (let i = 0; i < 75; i++) {
          if (worker === 0 && i === 25) stopping = b.stop();
          statuses.push((await servedBy(gw!, `/load/${worker}/${i}`)).status);
        }
      }),
    );
    await stopping;
    expect(statuses).toHaveLength(300);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    await waitFor('static-b to be gone from the table', async () => {
      const ups = (await (
        await request(`${gw!.url}/-/upstreams`, { dispatcher: agent })
      ).body.json()) as {
        services: Record<string, { name: string }[]>;
      };
      return ups.services.static!.every((i) => i.name !== 'static-b');
    });
  });

  it('keeps routing while nats-server is down, and discovers again once it is back', async () => {
    instances.push(await startNatsInstance('dynamic', 'dynamic-1', nats.url));
    gw = await spawnGateway({ NATS_URL: nats.url });
    await waitFor(
      'dynamic-1 to be found',
      async () => (await servedBy(gw!, '/api/x')).body === 'dynamic-1',
    );

    await nats.kill();
    // Well past several discovery sweeps: nothing is forgotten while NATS is away.
    for (let i = 0; i < 20; i++) {
      expect(await servedBy(gw, '/api/x')).toEqual({ status: 200, body: 'dynamic-1' });
      await new Promise((r) => setTimeout(r, 100));
    }

    await nats.restart();
    const late = await startNatsInstance('fetcher', 'fetcher-1', nats.url);
    instances.push(late);
    await waitFor(
      'fetcher-1 to be found after the reconnect',
      async () => (await servedBy(gw!, '/fetch')).body === 'fetcher-1',
      {
        timeoutMs: 15_000,
      },
    );
  });

  it('drops an instance that died without a word, and keeps one that only lost NATS', async () => {
    const ghost = await startNatsInstance('static', 'static-ghost', nats.url);
    const cut = await startNatsInstance('static', 'static-cut', nats.url);
    instances.push(ghost, cut);
    gw = await spawnGateway({ NATS_URL: nats.url });
    await waitFor('both to get traffic', async () => {
      await servedBy(gw!);
      return ghost.hits > 0 && cut.hits > 0;
    });
    // static-cut loses its NATS connection but keeps serving; static-ghost dies altogether.
    await cut.nats.close();
    await ghost.nats.close();
    ghost.server.closeAllConnections();
    await new Promise<void>((r) => ghost.server.close(() => r()));
    // Found by a sweep, instances are named by their NATS id: tell them apart by address.
    const known = async (): Promise<string[]> => {
      const res = await request(`${gw!.url}/-/upstreams`, { dispatcher: agent });
      const ups = (await res.body.json()) as { services: Record<string, { http: string }[]> };
      return (ups.services.static ?? []).map((i) => i.http);
    };
    expect((await known()).sort()).toEqual([ghost.url, cut.url].sort());
    await waitFor('the ghost to be dropped', async () => !(await known()).includes(ghost.url));
    expect(await known()).toEqual([cut.url]);
    expect((await servedBy(gw)).body).toBe('static-cut');
  });

  it('balances TCP connections to instances found through their `tcp` metadata', async () => {
    const echo = createTcpServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const tcp = `127.0.0.1:${(echo.address() as AddressInfo).port}`;
    try {
      instances.push(await startNatsInstance('tcp-echo', 'tcp-echo-1', nats.url, { tcp }));
      gw = await spawnGateway({ NATS_URL: nats.url });
      const reply = await waitFor(
        'an echo through the TCP listener',
        () =>
          new Promise<string | false>((resolve) => {
            const s = connectTcp(gw!.tcpPort!, '127.0.0.1');
            let got = '';
            s.on('data', (d: Buffer) => {
              got += d.toString();
              if (got === 'ping') s.end();
            });
            s.on('close', () => resolve(got === 'ping' && got));
            s.on('error', () => resolve(false));
            s.write('ping');
          }),
      );
      expect(reply).toBe('ping');
    } finally {
      echo.close();
    }
  });

  it('takes its route table from the KV key gateway.routes, ignores an invalid one, and reverts on delete', async () => {
    instances.push(await startNatsInstance('static', 'static-kv', nats.url));
    instances.push(await startNatsInstance('dynamic', 'dynamic-kv', nats.url));
    gw = await spawnGateway({ NATS_URL: nats.url });
    await waitFor('static-kv', async () => (await servedBy(gw!, '/page')).body === 'static-kv');
    const nc = await connect({ servers: nats.url });
    try {
      const kv = await new Kvm(nc).create(CONFIG_BUCKET);
      await kv.put(
        configKeys.gatewayRoutes,
        JSON.stringify({ routes: [{ name: 'everything', prefix: '/', service: 'dynamic' }] }),
      );
      await waitFor(
        'the KV table to apply',
        async () => (await servedBy(gw!, '/page')).body === 'dynamic-kv',
      );
      const routes = (await (
        await request(`${gw.url}/-/routes`, { dispatcher: agent })
      ).body.json()) as {
        source: string;
      };
      expect(routes.source).toMatch(/^kv:gateway\.routes@\d+$/);

      await kv.put(configKeys.gatewayRoutes, '{"routes": [{"name": "broken"}]}');
      await waitFor('the invalid table to be reported', () =>
        gw!.output.some((l) => l.includes('invalid route table in KV')),
      );
      expect((await servedBy(gw, '/page')).body).toBe('dynamic-kv');

      await kv.delete(configKeys.gatewayRoutes);
      await waitFor(
        'the default table to return',
        async () => (await servedBy(gw!, '/page')).body === 'static-kv',
      );
    } finally {
      await nc.close();
    }
  });
});
