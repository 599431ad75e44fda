import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  EVENTS_STREAM,
  ensureEventsStream,
  ensureEventsStreamAt,
  inboxPrefixFor,
  subjects,
} from '@netlab/shared';
import { startNatsServer, waitFor, type NatsServerHandle } from '@netlab/shared/testing';

jest.setTimeout(30_000);

describe('the NETLAB_EVENTS stream', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  /** nats.js spells the password `pass`. */
  const login = (user: 'admin' | 'gateway') => {
    const c = server.credentials(user);
    return { user: c.user, pass: c.password, inboxPrefix: inboxPrefixFor(c.user) };
  };

  beforeAll(async () => {
    // The secured configuration: the gateway's own user must be allowed to do this.
    server = await startNatsServer({ secured: true });
    nc = await connect({ servers: server.url, ...login('admin') });
  });
  afterAll(async () => {
    await nc?.close();
    await server.dispose();
  });

  it('is created by the supervisor with the admin user, then kept as it is when called again', async () => {
    await ensureEventsStreamAt({ servers: server.url, ...server.credentials('admin') });
    const jsm = await jetstreamManager(nc);
    const first = await jsm.streams.info(EVENTS_STREAM);
    expect(first.config.subjects).toEqual([subjects.allEvents]);
    expect(first.config.max_bytes).toBe(64 * 1024 * 1024);
    // The gateway's user may call it too; an up-to-date stream is left alone (same creation).
    const gateway = await connect({ servers: server.url, ...login('gateway') });
    try {
      await ensureEventsStream(gateway);
    } finally {
      await gateway.close();
    }
    expect((await jsm.streams.info(EVENTS_STREAM)).created).toBe(first.created);
  });

  it('drops the oldest events once the byte limit is crossed', async () => {
    const maxBytes = 4096;
    await ensureEventsStream(nc, { maxAgeMs: 60_000, maxBytes });
    const payload = Buffer.alloc(200, 'x');
    for (let i = 0; i < 100; i += 1) nc.publish(subjects.event('static', 'up'), payload);
    await nc.flush();
    const jsm = await jetstreamManager(nc);
    const { state, config } = await jsm.streams.info(EVENTS_STREAM);
    expect(config.max_bytes).toBe(maxBytes);
    expect(state.bytes).toBeLessThanOrEqual(maxBytes);
    expect(state.last_seq).toBeGreaterThanOrEqual(100);
    expect(state.first_seq).toBeGreaterThan(1);
  });

  it('drops events older than the age limit', async () => {
    await ensureEventsStream(nc, { maxAgeMs: 1000, maxBytes: 1024 * 1024 });
    for (let i = 0; i < 5; i += 1) nc.publish(subjects.event('static', 'down'), 'old');
    await nc.flush();
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBeGreaterThan(0);
    await waitFor('the old events to expire', async () => {
      const { state } = await jsm.streams.info(EVENTS_STREAM);
      return state.messages === 0;
    });
  });
});
