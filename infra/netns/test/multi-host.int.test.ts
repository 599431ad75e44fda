import { Socket, connect as tcpConnect } from 'node:net';
import { Svcm } from '@nats-io/services';
import { connectNats, type NatsClient } from '@netlab/shared';
import { silentLogger, waitFor } from '@netlab/shared/testing';
import { cleanLeftovers, createNetnsLab, netnsUnavailable, type NetnsLab } from './netns-lab';

/**
 * The lab across network namespaces: nats, two static hosts (a third joins later), dynamic,
 * fetcher, tcp-echo and the gateway, each on its own host, reaching each other by name over a
 * private bridge. Requests come from the root namespace to the gateway's address.
 *
 * Failed requests are counted in each case; the bounds asserted are the README's.
 */

const unavailable = netnsUnavailable();
const suite = unavailable === undefined ? describe : describe.skip;

/** Bounds (infra/netns/README.md): failed GETs while a static host is cut off, and across NATS. */
const MAX_FAILED_WHILE_CUT_OFF = 4;
const MAX_FAILED_WHILE_NATS_DOWN = 0;
const PART_SERVICES = ['static', 'dynamic', 'fetcher', 'tcp-echo', 'gateway'];

interface UpstreamReport {
  services: Record<string, { name: string; http?: string; state: string; requests: number }[]>;
}

suite(
  `the lab on separate hosts (network namespaces)${unavailable === undefined ? '' : ` — skipped: ${unavailable}`}`,
  () => {
    let lab: NetnsLab;
    let gatewayUrl: string;
    const admins: NatsClient[] = [];

    const get = async (path: string, init: RequestInit = {}): Promise<Response> =>
      fetch(`${gatewayUrl}${path}`, { ...init, signal: AbortSignal.timeout(5000) });

    /** One GET; true when it answered 200 with a body. */
    const getOk = async (path: string): Promise<boolean> => {
      try {
        const res = await get(path);
        const body = await res.arrayBuffer();
        return res.status === 200 && body.byteLength > 0;
      } catch {
        return false;
      }
    };

    const upstreams = async (): Promise<UpstreamReport['services']> =>
      ((await (await get('/-/upstreams')).json()) as UpstreamReport).services;

    const healthy = async (service: string): Promise<string[]> =>
      ((await upstreams())[service] ?? [])
        .filter((i) => i.state === 'healthy')
        .map((i) => i.http ?? i.name);

    const urlOf = (host: string) => `http://${lab.host(host).address}:8081`;

    const portOpen = (host: string, port: number): Promise<boolean> =>
      new Promise((resolve) => {
        const s: Socket = tcpConnect({ host, port, timeout: 1000 });
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
        s.once('timeout', () => {
          s.destroy();
          resolve(false);
        });
      });

    beforeAll(async () => {
      cleanLeftovers();
      lab = createNetnsLab({
        hosts: [
          { name: 'nats' },
          { name: 'static1', service: 'static' },
          { name: 'static2', service: 'static' },
          { name: 'static3', service: 'static' },
          { name: 'dynamic', service: 'dynamic' },
          { name: 'fetcher', service: 'fetcher' },
          { name: 'tcp-echo', service: 'tcp-echo' },
          { name: 'gateway', service: 'gateway' },
        ],
        // Shorter than compose's, so that a cut-off host is noticed within a test's time.
        overrides: {
          gateway: {
            HEALTH_INTERVAL: '500ms',
            HEALTH_TIMEOUT: '500ms',
            UPSTREAM_CONNECT_TIMEOUT: '1s',
            UPSTREAM_HEADERS_TIMEOUT: '3s',
            DISCOVERY_INTERVAL: '1s',
          },
        },
      });
      gatewayUrl = `http://${lab.host('gateway').address}:8080`;
      lab.start('nats');
      await waitFor('nats-server on its host', () => portOpen(lab.host('nats').address, 4222), {
        timeoutMs: 15_000,
      });
      for (const h of ['static1', 'static2', 'dynamic', 'fetcher', 'tcp-echo', 'gateway'])
        lab.start(h);
      await waitFor(
        'the gateway to see two static instances and one of every other part, healthy',
        async () => {
          const counts = await Promise.all(
            ['static', 'dynamic', 'fetcher', 'tcp-echo'].map(
              async (s) => (await healthy(s)).length,
            ),
          );
          return counts.join(',') === '2,1,1,1';
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
    }, 90_000);

    afterAll(async () => {
      await Promise.all(admins.splice(0).map((c) => c.close()));
      await lab?.teardown();
    }, 30_000);

    it('reaches every service across hosts through the gateway', async () => {
      const page = await get('/');
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<html/i);
      const css = await get('/lab.css');
      expect(css.status).toBe(200);

      const stocks = await get('/api/stocks');
      expect(stocks.status).toBe(200);
      expect(stocks.headers.get('content-type')).toMatch(/json/);

      // The fetcher, on its host, fetches from the static host by its compose name.
      const fetched = await get('/fetch', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: 'http://static:8081/lab.css' }),
      });
      expect(fetched.status).toBe(200);
      expect(((await fetched.json()) as { status: number }).status).toBe(200);

      // TCP pass-through to tcp-echo on its own host.
      const echoed = await new Promise<string>((resolve, reject) => {
        const s = tcpConnect({ host: lab.host('gateway').address, port: 7000 });
        let got = '';
        s.setTimeout(5000, () => s.destroy(new Error('no echo within 5s')));
        s.once('connect', () => s.write('across hosts\n'));
        s.on('data', (d: Buffer) => {
          got += d.toString();
          if (got.endsWith('\n')) {
            s.end();
            resolve(got);
          }
        });
        s.once('error', reject);
      });
      expect(echoed).toBe('across hosts\n');

      // Both static hosts take traffic.
      for (let i = 0; i < 40; i++) expect(await getOk('/lab.css')).toBe(true);
      const statics = (await upstreams()).static ?? [];
      expect(statics.map((s) => s.requests > 0)).toEqual([true, true]);
    }, 60_000);

    it(`keeps GETs succeeding when a static host is cut off (at most ${MAX_FAILED_WHILE_CUT_OFF} fail)`, async () => {
      lab.cutOff('static1');
      let failed = 0;
      let okInARow = 0;
      const deadline = Date.now() + 40_000;
      // Until the gateway stops routing to static1 and 20 GETs in a row succeed (bounded).
      for (let n = 0; n < 2000 && Date.now() < deadline; n++) {
        if (await getOk('/lab.css')) okInARow++;
        else {
          failed++;
          okInARow = 0;
        }
        if (okInARow >= 20 && !(await healthy('static')).includes(urlOf('static1'))) break;
      }
      expect(await healthy('static')).toEqual([urlOf('static2')]);
      expect(okInARow).toBeGreaterThanOrEqual(20);
      expect(failed).toBeLessThanOrEqual(MAX_FAILED_WHILE_CUT_OFF);

      lab.reconnect('static1');
      await waitFor('static1 healthy again', async () => (await healthy('static')).length === 2, {
        timeoutMs: 30_000,
        intervalMs: 250,
      });
    }, 90_000);

    it(`survives NATS going away and coming back; discovery recovers (${MAX_FAILED_WHILE_NATS_DOWN} failed)`, async () => {
      let failed = 0;
      await lab.stop('nats', 'SIGKILL');
      // Routed traffic does not depend on NATS: nothing is dropped while it is down.
      for (let i = 0; i < 20; i++) {
        if (!(await getOk(i % 2 === 0 ? '/lab.css' : '/api/stocks'))) failed++;
      }
      expect(await healthy('static')).toHaveLength(2);

      lab.start('nats');
      await waitFor('nats-server back', () => portOpen(lab.host('nats').address, 4222), {
        timeoutMs: 15_000,
      });
      const admin = await connectNats({
        servers: [`nats://${lab.host('nats').address}:4222`],
        name: 'netns-test',
        logger: silentLogger(),
        maxPendingBytes: 1024 * 1024,
        user: 'admin',
        password: lab.passwords.admin,
      });
      admins.push(admin);
      // Every instance reconnected with its own user and answers $SRV.PING again.
      await waitFor(
        'every instance to answer $SRV.PING after the restart',
        async () => {
          const names: string[] = [];
          for await (const p of await new Svcm(admin.nc)
            .client({ strategy: 'timer', maxWait: 1000 })
            .ping()) {
            names.push(p.name);
          }
          return names.sort().join(',') === [...PART_SERVICES, 'static'].sort().join(',');
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );

      // A new instance registers after the restart and the gateway routes to it.
      lab.start('static3');
      await waitFor(
        'the gateway to discover static3',
        async () => (await healthy('static')).length === 3,
        {
          timeoutMs: 30_000,
          intervalMs: 250,
        },
      );
      for (let i = 0; i < 30; i++) if (!(await getOk('/lab.css'))) failed++;
      expect(failed).toBeLessThanOrEqual(MAX_FAILED_WHILE_NATS_DOWN);
      const statics = (await upstreams()).static ?? [];
      expect(statics.find((s) => s.http === urlOf('static3'))?.requests).toBeGreaterThan(0);
    }, 90_000);
  },
);
