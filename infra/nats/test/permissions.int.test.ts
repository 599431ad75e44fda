import { jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Svcm } from '@nats-io/services';
import { connect } from '@nats-io/transport-node';
import {
  CONFIG_BUCKET,
  configKeys,
  connectNats,
  EVENTS_STREAM,
  FETCHER_SESSIONS_BUCKET,
  registerService,
  subjects,
  type NatsClient,
  type NatsUser,
} from '@netlab/shared';
import {
  silentLogger,
  startNatsServer,
  waitFor,
  type NatsServerHandle,
} from '@netlab/shared/testing';

/**
 * The users of infra/nats/nats.conf against a real nats-server: each part's user can do what the
 * part does (the same library calls), and a step outside its rights is refused with a
 * "Permissions Violation" that the client surfaces.
 */

let server: NatsServerHandle;
const clients: NatsClient[] = [];

beforeAll(async () => {
  server = await startNatsServer({ secured: true });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await server?.dispose();
});

async function connectAs(user: NatsUser): Promise<NatsClient> {
  const client = await connectNats({
    servers: [server.url],
    name: `test-${user}`,
    logger: silentLogger(),
    maxPendingBytes: 1024 * 1024,
    ...server.credentials(user),
  });
  clients.push(client);
  return client;
}

/** Every permission violation the server reports on this connection, as `Publish to "x"`. */
function violations(client: NatsClient): string[] {
  const seen: string[] = [];
  void (async () => {
    for await (const s of client.nc.status()) {
      if (s.type === 'error' && /Permissions Violation/.test(s.error.message)) {
        seen.push(s.error.message.replace(/^.*Permissions Violation for /, ''));
      }
    }
  })();
  return seen;
}

async function refusedPublish(client: NatsClient, subject: string): Promise<void> {
  const seen = violations(client);
  client.publish(subject, 'x');
  await client.nc.flush();
  await waitFor(`a refused publish to ${subject}`, () => seen.includes(`Publish to "${subject}"`), {
    timeoutMs: 5000,
  });
}

async function refusedSubscribe(client: NatsClient, subject: string): Promise<void> {
  const sub = client.nc.subscribe(subject);
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    sub.closed.then((err) => (err instanceof Error ? err.message : 'closed without error')),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('still open after 5s'), 5000);
    }),
  ]);
  clearTimeout(timer);
  expect(closed).toBe(`Permissions Violation for Subscription to "${subject}"`);
}

const PARTS = ['static', 'dynamic', 'fetcher', 'tcp-echo', 'gateway'] as const;

describe('every part', () => {
  it.each(PARTS)(
    '%s registers a micro service that the gateway discovers and announces itself',
    async (part) => {
      const gateway = await connectAs('gateway');
      const events: string[] = [];
      gateway.nc.subscribe(subjects.allEvents, {
        callback: (_e, m) => void events.push(m.subject),
      });
      await gateway.nc.flush();

      const client = await connectAs(part);
      const service = await registerService(client.nc, {
        name: part,
        version: '1.0.0',
        metadata: { http: 'http://127.0.0.1:1' },
      });
      client.publishJson(subjects.event(part, 'up'), { id: service.info().id });
      await client.nc.flush();

      const found: string[] = [];
      for await (const info of await new Svcm(gateway.nc).client().info(part)) found.push(info.id);
      expect(found).toContain(service.info().id);
      await waitFor(`the ${part} up event`, () => events.includes(`netlab.events.${part}.up`), {
        timeoutMs: 5000,
      });
      await service.stop();
    },
  );

  it.each(PARTS.filter((p) => p !== 'dynamic'))(
    "%s may not publish another part's events (dynamic quotes)",
    async (part) => {
      await refusedPublish(await connectAs(part), subjects.dynamicQuotes);
    },
  );

  it.each(PARTS.filter((p) => p !== 'fetcher'))(
    "%s may not subscribe to the fetcher's requests",
    async (part) => {
      await refusedSubscribe(await connectAs(part), subjects.fetcherFetch);
    },
  );

  it.each(PARTS)('%s may not read the shared _INBOX.> (replies to others)', async (part) => {
    await refusedSubscribe(await connectAs(part), '_INBOX.>');
  });

  it.each(PARTS)('%s may not touch the system account subjects', async (part) => {
    await refusedPublish(await connectAs(part), '$SYS.REQ.SERVER.PING');
  });
});

describe('authentication', () => {
  it('refuses a wrong password and a missing user', async () => {
    await expect(
      connect({ servers: server.url, user: 'static', pass: 'wrong', reconnect: false }),
    ).rejects.toThrow(/Authorization Violation/i);
    await expect(connect({ servers: server.url, reconnect: false })).rejects.toThrow(
      /Authorization Violation/i,
    );
  });
});

describe('static and tcp-echo', () => {
  it('static cannot make requests at all (no inbox of its own)', async () => {
    const client = await connectAs('static');
    await expect(client.request(subjects.fetcherFetch, '{}', { timeoutMs: 2000 })).rejects.toThrow(
      /Permissions Violation/,
    );
  });

  it('tcp-echo answers its stats endpoint to the gateway and admin', async () => {
    const echo = await connectAs('tcp-echo');
    const service = await registerService(echo.nc, {
      name: 'tcp-echo',
      version: '1.0.0',
      metadata: {},
    });
    service.addEndpoint('stats', {
      subject: subjects.tcpEchoStats,
      handler: (_err, msg) => msg.respond('{"tcp":{}}'),
    });
    await echo.nc.flush();
    const admin = await connectAs('admin');
    expect((await admin.request(subjects.tcpEchoStats, '')).string()).toBe('{"tcp":{}}');
    await service.stop();
  });
});

describe('dynamic and fetcher', () => {
  it("dynamic requests a fetch and the fetcher answers it on dynamic's private inbox", async () => {
    const fetcher = await connectAs('fetcher');
    const service = await registerService(fetcher.nc, {
      name: 'fetcher',
      version: '1.0.0',
      metadata: {},
    });
    service.addEndpoint('fetch', {
      subject: subjects.fetcherFetch,
      handler: (_err, msg) => msg.respond('{"status":200}'),
    });
    await fetcher.nc.flush();
    const dynamic = await connectAs('dynamic');
    expect((await dynamic.request(subjects.fetcherFetch, '{}')).string()).toBe('{"status":200}');
    await service.stop();
  });

  it("dynamic instances see each other's price changes", async () => {
    const a = await connectAs('dynamic');
    const b = await connectAs('dynamic');
    const got: string[] = [];
    b.nc.subscribe(subjects.dynamicQuotes, { callback: (_e, m) => void got.push(m.string()) });
    await b.nc.flush();
    a.publish(subjects.dynamicQuotes, '{"code":"600000"}');
    await waitFor('the price change', () => got.length === 1, { timeoutMs: 5000 });
  });

  it("dynamic may not answer the fetcher's requests nor publish the fetcher's events", async () => {
    const dynamic = await connectAs('dynamic');
    await refusedSubscribe(dynamic, subjects.fetcherFetch);
    await refusedPublish(dynamic, subjects.event('fetcher', 'download'));
  });

  it('the fetcher keeps sessions in its KV bucket: create, read, update, delete', async () => {
    const fetcher = await connectAs('fetcher');
    const kvm = new Kvm(fetcher.nc);
    const kv = await kvm
      .create(FETCHER_SESSIONS_BUCKET, { ttl: 60_000, history: 1 })
      .catch(() => kvm.open(FETCHER_SESSIONS_BUCKET));
    const rev = await kv.create('session.a', '{"cookies":[]}');
    expect((await kv.get('session.a'))?.string()).toBe('{"cookies":[]}');
    await kv.update('session.a', '{"cookies":[1]}', rev);
    await kv.delete('session.a');
    expect((await kv.get('session.a'))?.operation).toBe('DEL');
  });

  it("the fetcher may not open the gateway's config bucket", async () => {
    const fetcher = await connectAs('fetcher');
    const admin = await connectAs('admin');
    await new Kvm(admin.nc).create(CONFIG_BUCKET, { history: 5 });
    const kv = await new Kvm(fetcher.nc).open(CONFIG_BUCKET);
    await expect(kv.get(configKeys.gatewayRoutes)).rejects.toThrow(/Permissions Violation/);
    await expect(kv.put(configKeys.gatewayRoutes, '{}')).rejects.toThrow(/Permissions Violation/);
  });
});

describe('gateway', () => {
  it('watches gateway.routes in netlab_config and sees what an admin writes, but cannot write', async () => {
    const gateway = await connectAs('gateway');
    const kv = await new Kvm(gateway.nc).create(CONFIG_BUCKET, { history: 5 });
    const watch = await kv.watch({ key: configKeys.gatewayRoutes });
    const admin = await connectAs('admin');
    const adminKv = await new Kvm(admin.nc).open(CONFIG_BUCKET);
    await adminKv.put(configKeys.gatewayRoutes, '{"routes":[]}');
    let seen = '';
    for await (const e of watch) {
      seen = e.string();
      if (seen !== '') break;
    }
    watch.stop();
    expect(seen).toBe('{"routes":[]}');
    await expect(kv.put(configKeys.gatewayRoutes, '{}')).rejects.toThrow(/Permissions Violation/);
  });

  it('creates the events stream and tails it with an ordered consumer', async () => {
    const gateway = await connectAs('gateway');
    const jsm = await jetstreamManager(gateway.nc);
    await jsm.streams.add({
      name: EVENTS_STREAM,
      subjects: [subjects.allEvents],
      retention: RetentionPolicy.Limits,
      max_age: 3600 * 1e9,
      max_bytes: 16 * 1024 * 1024,
    });
    const consumer = await jetstream(gateway.nc).consumers.get(EVENTS_STREAM);
    const tcpEcho = await connectAs('tcp-echo');
    tcpEcho.publish(subjects.event('tcp-echo', 'stats'), '{"n":1}');
    await tcpEcho.nc.flush();
    const msg = await consumer.next({ expires: 5000 });
    expect(msg?.subject).toBe('netlab.events.tcp-echo.stats');
    expect(msg?.string()).toBe('{"n":1}');
  });

  it('may not delete the events stream nor purge it', async () => {
    const gateway = await connectAs('gateway');
    const jsm = await jetstreamManager(gateway.nc);
    await expect(jsm.streams.delete(EVENTS_STREAM)).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.streams.purge(EVENTS_STREAM)).rejects.toThrow(/Permissions Violation/);
  });
});
