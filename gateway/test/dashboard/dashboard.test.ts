import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen, waitFor } from '@netlab/shared/testing';
import { defaultSettings } from '../../src/config';
import type { DashboardState, TrafficView } from '../../src/dashboard/dashboard';
import {
  addUpstream,
  startGateway,
  startUpstream,
  type RunningGateway,
  type Upstream,
} from '../helpers';
import { openSse } from './sse-client';

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

describe('the dashboard endpoints', () => {
  let gw: RunningGateway;
  let a: Upstream;
  let b: Upstream;
  let monitor: Server;
  let resultsRoot: string;
  const RUN = '2026-11-24T01-02-03-004Z-smoke';

  beforeAll(async () => {
    resultsRoot = mkdtempSync(join(tmpdir(), 'netlab-dash-'));
    const results = join(resultsRoot, 'results');
    mkdirSync(join(results, RUN), { recursive: true });
    writeFileSync(join(results, RUN, 'report.html'), '<html><script>1</script>report</html>');
    writeFileSync(
      join(results, RUN, 'summary.md'),
      '# smoke\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n',
    );
    writeFileSync(join(resultsRoot, 'secret.md'), '"secret"');
    monitor = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/varz') res.end(JSON.stringify({ server_name: 'fake', version: '2.9.10' }));
      else
        res.end(JSON.stringify({ connections: [{ name: 'static-1', ip: '127.0.0.1', port: 1 }] }));
    });
    const { port: monitorPort } = await listen(monitor, 0, '127.0.0.1');
    a = await startUpstream('a');
    b = await startUpstream('b', (req, res) => {
      res.statusCode = req.url === '/fail.html' ? 500 : 200;
      res.end('b');
    });
    gw = await startGateway({
      routes: [
        { name: 'pages', suffix: '.html', service: 'dynamic' },
        { name: 'files', prefix: '/', service: 'static' },
      ],
      settings: {
        dashboard: {
          ...defaultSettings().dashboard,
          maxClients: 2,
          pollIntervalMs: 200,
          natsMonitorUrl: `http://127.0.0.1:${monitorPort}`,
          resultsDir: results,
        },
      },
    });
    await addUpstream(gw.gateway, 'static', a);
    await addUpstream(gw.gateway, 'dynamic', b);
  });

  afterAll(async () => {
    await gw?.close();
    await a?.close();
    await b?.close();
    monitor?.closeAllConnections();
    monitor?.close();
    rmSync(resultsRoot, { recursive: true, force: true });
  });

  const state = async (): Promise<DashboardState> => {
    const res = await fetch(`${gw.url}/-/dashboard/state.json`);
    expect(res.status).toBe(200);
    return (await res.json()) as DashboardState;
  };
  /** Requests counted in a traffic view, for a route or instance label. */
  const counted = (t: TrafficView, kind: 'routes' | 'instances', label: string): number =>
    sum(t[kind].find((s) => s.label === label)?.points.requests ?? []);

  it('counts every proxied request per route, per instance and in total, errors as 5xx', async () => {
    for (let i = 0; i < 7; i++) expect((await fetch(`${gw.url}/f${i}.txt`)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await fetch(`${gw.url}/p${i}.html`)).status).toBe(200);
    expect((await fetch(`${gw.url}/fail.html`)).status).toBe(500);
    // Counted when the second is complete: wait for it rather than for time.
    const s = await waitFor('the requests in the snapshot', async () => {
      const st = await state();
      return sum(st.traffic.total.points.requests) === 11 ? st : undefined;
    });
    expect(counted(s.traffic, 'routes', 'files')).toBe(7);
    expect(counted(s.traffic, 'routes', 'pages')).toBe(4);
    expect(sum(s.traffic.routes.find((r) => r.label === 'pages')!.points.errors)).toBe(1);
    const instA = s.topology.services.find((x) => x.name === 'static')!.instances[0]!;
    expect(counted(s.traffic, 'instances', instA.name)).toBe(7);
    const minute = s.traffic.routes.find((r) => r.label === 'pages')!.lastMinute;
    expect(minute).toMatchObject({ requests: 4, errors: 1, errorRate: 0.25 });
    expect(minute.p50).not.toBeNull();
    expect(s.traffic.to - s.traffic.from + 1).toBe(s.windowSeconds);
  });

  it('shows the topology: every expected service, each instance with state and address', async () => {
    const s = await state();
    expect(s.topology.services.map((x) => x.name)).toEqual([
      'static',
      'dynamic',
      'fetcher',
      'tcp-echo',
    ]);
    const st = s.topology.services.find((x) => x.name === 'static')!;
    expect(st.instances).toEqual([
      expect.objectContaining({
        state: 'healthy',
        http: a.url,
        host: '127.0.0.1',
        sources: ['static'],
      }),
    ]);
    expect(s.topology.services.find((x) => x.name === 'fetcher')!.instances).toEqual([]);
    expect(s.topology.database).toMatchObject({ kind: 'unknown' });
    expect(s.topology.routes.map((r) => r.match)).toEqual(['suffix .html', 'prefix /']);
  });

  it('shows nats-server from its monitoring endpoint and the newest load test', async () => {
    const s = await state();
    expect(s.nats).toMatchObject({ ok: true, serverName: 'fake', clients: [{ name: 'static-1' }] });
    expect(s.loadTest).toMatchObject({
      ok: true,
      run: {
        name: RUN,
        title: 'smoke',
        table: { header: ['a', 'b'], rows: [['1', '2']] },
        report: { href: `/-/dashboard/results/${RUN}/report.html` },
      },
    });
    expect(s.events).toMatchObject({ source: 'NATS not connected', items: [] });
  });

  it('streams a snapshot, then each second of traffic as it completes', async () => {
    const sse = await openSse(`${gw.url}/-/dashboard/events`);
    try {
      expect(sse.status).toBe(200);
      expect(sse.headers['content-type']).toMatch(/^text\/event-stream/);
      const snapshot = await sse.next<DashboardState>('state');
      expect(snapshot.topology.services).toHaveLength(4);
      for (let i = 0; i < 5; i++) await fetch(`${gw.url}/tick${i}.txt`);
      // The ticks after the snapshot carry these five requests on the route `files`.
      await waitFor('five requests in the ticks', () => {
        const ticks = sse.events
          .filter((e) => e.event === 'tick')
          .map((e) => e.data as TrafficView);
        return sum(ticks.map((t) => counted(t, 'routes', 'files'))) === 5;
      });
    } finally {
      sse.close();
    }
  });

  it('refuses a stream past DASHBOARD_MAX_CLIENTS with 503 GATEWAY_DASHBOARD_BUSY, and takes one again after a close', async () => {
    const first = await openSse(`${gw.url}/-/dashboard/events`);
    const second = await openSse(`${gw.url}/-/dashboard/events`);
    try {
      await first.next('state');
      await second.next('state');
      const third = await fetch(`${gw.url}/-/dashboard/events`);
      expect(third.status).toBe(503);
      expect(third.headers.get('content-type')).toBe('application/problem+json');
      expect(third.headers.get('retry-after')).toBe('5');
      expect(await third.json()).toMatchObject({ code: 'GATEWAY_DASHBOARD_BUSY' });
      first.close();
      await waitFor(
        'the closed stream to be forgotten',
        () => gw.gateway.dashboard.clients() === 1,
      );
      const again = await openSse(`${gw.url}/-/dashboard/events`);
      expect(again.status).toBe(200);
      again.close();
    } finally {
      first.close();
      second.close();
    }
  });

  it('serves the page with a strict CSP, its assets and uPlot from the gateway itself', async () => {
    const page = await fetch(`${gw.url}/-/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const html = await page.text();
    expect(html).toContain('/-/dashboard/assets/dashboard.js');
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of ['dashboard.js', 'dashboard.css', 'uplot.js', 'uplot.css']) {
      const res = await fetch(`${gw.url}/-/dashboard/assets/${asset}`);
      expect(res.status).toBe(200);
      const etag = res.headers.get('etag')!;
      const again = await fetch(`${gw.url}/-/dashboard/assets/${asset}`, {
        headers: { 'if-none-match': etag },
      });
      expect(again.status).toBe(304);
    }
    expect((await fetch(`${gw.url}/-/dashboard/assets/../config.js`)).status).toBe(404);
    expect((await fetch(`${gw.url}/-/dashboard/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${gw.url}/-/dashboard/state.json`, { method: 'POST' })).status).toBe(405);
  });

  it('serves a run report sandboxed, and nothing outside the results folder', async () => {
    const report = await fetch(`${gw.url}/-/dashboard/results/${RUN}/report.html`);
    expect(report.status).toBe(200);
    expect(report.headers.get('content-security-policy')).toMatch(/^sandbox allow-scripts/);
    expect(await report.text()).toContain('report');
    for (const path of [
      `/-/dashboard/results/${RUN}/..%2fsecret.md`,
      `/-/dashboard/results/%2e%2e/secret.md`,
      `/-/dashboard/results/${RUN}/%2e%2e`,
      `/-/dashboard/results/${RUN}/report.exe`,
      `/-/dashboard/results/${RUN}/a/report.html`,
    ]) {
      const res = await fetch(`${gw.url}${path}`);
      expect([400, 404]).toContain(res.status);
      expect(await res.text()).not.toContain('"secret"');
    }
  });
});

describe('the dashboard turned off', () => {
  it('answers 404 under /-/dashboard with DASHBOARD=false and counts nothing', async () => {
    const gw = await startGateway({
      settings: { dashboard: { ...defaultSettings().dashboard, enabled: false } },
    });
    try {
      const res = await fetch(`${gw.url}/-/dashboard`);
      expect(res.status).toBe(404);
      const problem = (await res.json()) as { code: string; detail: string };
      expect(problem.code).toBe('NOT_FOUND');
      expect(problem.detail).toMatch(/DASHBOARD=false/);
      expect((await fetch(`${gw.url}/-/dashboard/state.json`)).status).toBe(404);
    } finally {
      await gw.close();
    }
  });
});
