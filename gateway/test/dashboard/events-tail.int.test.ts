import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, EVENTS_STREAM, subjects, type NatsClient } from '@netlab/shared';
import {
  silentLogger,
  startNatsServer,
  waitFor,
  type NatsServerHandle,
} from '@netlab/shared/testing';
import { defaultSettings } from '../../src/config';
import type { DashboardState, EventsView } from '../../src/dashboard/dashboard';
import type { LabEvent } from '../../src/dashboard/lab-events';
import { startGateway, type RunningGateway } from '../helpers';
import { openSse } from './sse-client';

jest.setTimeout(30_000);

async function client(nats: NatsServerHandle): Promise<NatsClient> {
  return connectNats({
    servers: [nats.url],
    name: 'events-test',
    logger: silentLogger(),
    maxPendingBytes: 1 << 20,
  });
}

const up = (n: number) => ({
  instance: `static-${n}`,
  id: `id${n}`,
  version: '0.1.0',
  metadata: { http: `http://127.0.0.1:${9000 + n}` },
});

async function dashboardGateway(nc: NatsClient, maxEvents: number): Promise<RunningGateway> {
  const gw = await startGateway({
    settings: { dashboard: { ...defaultSettings().dashboard, maxEvents, pollIntervalMs: 200 } },
  });
  gw.gateway.dashboard.attachNats(nc.nc);
  return gw;
}

async function events(gw: RunningGateway): Promise<EventsView> {
  const res = await fetch(`${gw.url}/-/dashboard/state.json`);
  return ((await res.json()) as DashboardState).events;
}

describe('the event tail from NETLAB_EVENTS', () => {
  let nats: NatsServerHandle;
  let nc: NatsClient;
  let gw: RunningGateway | undefined;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await client(nats);
    const jsm = await jetstreamManager(nc.nc);
    await jsm.streams.add({
      name: EVENTS_STREAM,
      subjects: [subjects.allEvents],
      max_age: 3600 * 1e9,
      max_bytes: 8 * 1024 * 1024,
    });
    const js = jsm.jetstream();
    // Twelve announcements and a stats event, before the gateway exists.
    for (let n = 1; n <= 12; n++)
      await js.publish(subjects.event('static', 'up'), JSON.stringify(up(n)));
    await js.publish(
      subjects.event('tcp-echo', 'stats'),
      JSON.stringify({ instance: 'tcp-echo-1', tcp: { open: 4, accepted: 9 }, udp: {} }),
    );
  });

  afterAll(async () => {
    await gw?.close();
    await nc?.close();
    await nats?.dispose();
  });

  it('replays the stream tail at start, keeping DASHBOARD_MAX_EVENTS, then follows live', async () => {
    gw = await dashboardGateway(nc, 5);
    const tail = await waitFor('the replayed tail', async () => {
      const e = await events(gw!);
      return e.source === 'stream' && e.items.at(-1)?.instance === 'static-12' ? e : undefined;
    });
    // The newest five of the twelve, in stream order, each with its sequence number.
    expect(tail.items.map((e) => e.instance)).toEqual([
      'static-8',
      'static-9',
      'static-10',
      'static-11',
      'static-12',
    ]);
    expect(tail.items.map((e) => e.seq)).toEqual([8, 9, 10, 11, 12]);
    // The stats event updated the tcp-echo figures instead of the tail.
    const state = (await (
      await fetch(`${gw.url}/-/dashboard/state.json`)
    ).json()) as DashboardState;
    expect(state.tcpEcho).toEqual([
      expect.objectContaining({ instance: 'tcp-echo-1', tcpOpen: 4 }),
    ]);

    const sse = await openSse(`${gw.url}/-/dashboard/events`);
    try {
      await sse.next('state');
      nc.publishJson(subjects.event('static', 'down'), { instance: 'static-3', id: 'id3' });
      const live = await sse.next<LabEvent>('event', (e) => e.kind === 'down');
      expect(live).toMatchObject({
        service: 'static',
        instance: 'static-3',
        summary: 'static-3 left',
        seq: 14,
      });
    } finally {
      sse.close();
    }
  });
});

describe('the event tail without the stream', () => {
  it('follows netlab.events.> live and says the history is missing', async () => {
    const nats = await startNatsServer();
    const nc = await client(nats);
    const gw = await dashboardGateway(nc, 10);
    try {
      await waitFor('the fallback', async () => (await events(gw)).source === 'subscription');
      nc.publishJson(subjects.event('fetcher', 'download'), {
        instance: 'fetcher-1',
        kind: 'done',
        download: { id: 'd', url: 'http://x/y', state: 'done', bytes: 3, total: 3 },
      });
      const e = await waitFor('the live event', async () => {
        const v = await events(gw);
        return v.items.length === 1 ? v : undefined;
      });
      expect(e.detail).toMatch(/NETLAB_EVENTS does not exist/);
      expect(e.items[0]).toMatchObject({ seq: null, kind: 'download.done' });
      const state = (await (
        await fetch(`${gw.url}/-/dashboard/state.json`)
      ).json()) as DashboardState;
      expect(state.fetcher.downloads).toEqual([
        expect.objectContaining({ id: 'd', state: 'done' }),
      ]);
    } finally {
      await gw.close();
      await nc.close();
      await nats.dispose();
    }
  });
});
