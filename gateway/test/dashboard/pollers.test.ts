import { createServer, type Server } from 'node:http';
import { listen } from '@netlab/shared/testing';
import { fetchBounded } from '../../src/dashboard/bounded-fetch';
import { parseGauges, scrapeGauges } from '../../src/dashboard/metrics-scrape';
import { parseNatsState, readNatsState } from '../../src/dashboard/nats-monitor';

describe('the dashboard pollers', () => {
  let server: Server;
  let base: string;
  const sockets = new Set<import('node:net').Socket>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      switch (req.url) {
        case '/varz':
          res.end(
            JSON.stringify({
              server_name: 'netlab',
              version: '2.9.10',
              uptime: '1m',
              connections: 2,
              total_connections: 5,
              in_msgs: 10,
              jetstream: { stats: { memory: 0, storage: 4096, api: { total: 3, errors: 1 } } },
            }),
          );
          return;
        case '/connz?limit=256':
          res.end(
            JSON.stringify({
              connections: [
                { cid: 2, name: 'static-1', ip: '127.0.0.1', port: 5, lang: 'nats.js' },
                { cid: 1, ip: '127.0.0.1', port: 6 },
              ],
            }),
          );
          return;
        case '/metrics':
          res.end(
            [
              '# HELP fetcher_fetches_queued Fetches waiting',
              '# TYPE fetcher_fetches_queued gauge',
              'fetcher_fetches_queued{service="fetcher",instance="a b"} 3',
              'fetcher_fetches_running 2',
              'fetcher_fetches_running{x="1"} 1 1700000000',
              'other_metric 9',
            ].join('\n'),
          );
          return;
        case '/big':
          res.write(Buffer.alloc(64 * 1024, 'x'));
          res.end(Buffer.alloc(64 * 1024, 'x'));
          return;
        case '/silent':
          return; // never answers
        default:
          res.statusCode = 404;
          res.end();
      }
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    const { port } = await listen(server, 0, '127.0.0.1');
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const opts = { timeoutMs: 1000, maxBytes: 100_000 };

  it('reads nats-server from /varz and /connz, clients sorted by name', async () => {
    const state = await readNatsState(base, opts);
    expect(state).toMatchObject({
      ok: true,
      serverName: 'netlab',
      version: '2.9.10',
      connections: 2,
      totalConnections: 5,
      jetstream: { storageBytes: 4096, apiTotal: 3, apiErrors: 1 },
    });
    if (!state.ok) return;
    expect(state.clients.map((c) => c.name)).toEqual(['cid 1', 'static-1']);
  });

  it('says unknown when NATS_MONITOR_URL is unset, unreachable when it does not answer', async () => {
    const unset = await readNatsState(undefined, opts);
    expect(!unset.ok && unset.error).toMatch(/NATS_MONITOR_URL is not set/);
    const wrong = await readNatsState(`${base}/nothing`, opts);
    expect(!wrong.ok && wrong.error).toMatch(/unreachable: answered 404/);
  });

  it('gives up on an answer larger than DASHBOARD_POLL_MAX_BYTES', async () => {
    await expect(
      fetchBounded(`${base}/big`, { timeoutMs: 1000, maxBytes: 100_000 }),
    ).rejects.toThrow(/larger than 100000 bytes/);
    await expect(
      fetchBounded(`${base}/big`, { timeoutMs: 1000, maxBytes: 200_000 }),
    ).resolves.toHaveLength(128 * 1024);
  });

  it('gives up on a silent endpoint after DASHBOARD_POLL_TIMEOUT', async () => {
    await expect(
      fetchBounded(`${base}/silent`, { timeoutMs: 200, maxBytes: 1000 }),
    ).rejects.toThrow(/no answer within 200ms/);
  });

  it('sums the named gauges of a Prometheus text, labels or not', async () => {
    await expect(
      scrapeGauges(`${base}/metrics`, ['fetcher_fetches_queued', 'fetcher_fetches_running'], opts),
    ).resolves.toEqual({ fetcher_fetches_queued: 3, fetcher_fetches_running: 3 });
    expect(parseGauges('x{a="}"} 1\nx 2', ['x'])).toEqual({ x: 3 });
  });

  it('survives odd monitoring answers', () => {
    const s = parseNatsState('u', '{}', '{"connections": "no"}');
    expect(s).toMatchObject({ ok: true, connections: 0, jetstream: null, clients: [] });
  });
});
