import { connect } from 'node:net';
import { connectNats, subjects } from '@netlab/shared';
import { silentLogger, startNatsServer, waitFor } from '@netlab/shared/testing';
import { defaultSettings } from '../../src/config';
import { startGateway } from '../helpers';
import { openSse } from './sse-client';

jest.setTimeout(60_000);

/** DASHBOARD_CLIENT_BUFFER: a page that stops reading is dropped; one that reads is not. */
describe('a dashboard client that does not read', () => {
  it('is disconnected once DASHBOARD_CLIENT_BUFFER bytes wait for it, while a reader keeps its stream', async () => {
    const clientBufferBytes = 1024 * 1024;
    const nats = await startNatsServer({ jetstream: false });
    const nc = await connectNats({
      servers: [nats.url],
      name: 'buffer-test',
      logger: silentLogger(),
      maxPendingBytes: 8 << 20,
    });
    const gw = await startGateway({
      settings: { dashboard: { ...defaultSettings().dashboard, clientBufferBytes } },
    });
    gw.gateway.dashboard.attachNats(nc.nc);
    const stalled = connect(gw.port, '127.0.0.1');
    try {
      const reader = await openSse(`${gw.url}/-/dashboard/events`);
      // The stalled page: asks for the stream, reads its first bytes, then never again (its
      // kernel buffers fill, then the gateway's own buffer grows).
      stalled.write(
        `GET /-/dashboard/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`,
      );
      await new Promise((resolve) => stalled.once('data', resolve));
      stalled.pause();
      let closed = false;
      stalled.once('close', () => (closed = true));

      // Live events (no stream: the fallback subscription), each broadcast to every page, until
      // far more has gone to the reader than loopback buffers could hold for the stalled page.
      const note = 'x'.repeat(400);
      const target = 16 * 1024 * 1024;
      let delivered = 0;
      let counted = 0;
      for (let batch = 0; batch < 400 && delivered < target; batch += 1) {
        for (let i = 0; i < 200; i += 1) {
          nc.publishJson(subjects.event('static', 'up'), {
            instance: `static-${i}`,
            id: `id${i}`,
            version: note,
            metadata: { http: 'http://127.0.0.1:1' },
          });
        }
        await nc.nc.flush();
        for (; counted < reader.events.length; counted += 1) {
          delivered += JSON.stringify(reader.events[counted]!.data).length;
        }
      }
      expect(delivered).toBeGreaterThanOrEqual(target);
      stalled.resume();
      await waitFor('the stalled page to be disconnected', () => closed, { timeoutMs: 20_000 });
      // The reader got the flood and is still connected: one more event reaches it.
      nc.publishJson(subjects.event('fetcher', 'download'), {
        instance: 'fetcher-1',
        kind: 'done',
        download: { id: 'last', url: 'http://x/y', state: 'done', bytes: 1, total: 1 },
      });
      await reader.next<{ kind: string }>('event', (e) => e.kind === 'download.done', 20_000);
      reader.close();
    } finally {
      stalled.destroy();
      await gw.close();
      await nc.close();
      await nats.dispose();
    }
  });
});
