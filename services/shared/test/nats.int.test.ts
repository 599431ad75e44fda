import { connect } from '@nats-io/transport-node';
import { Svcm } from '@nats-io/services';
import {
  connectNats,
  isNetlabError,
  registerService,
  subjects,
  type NatsClient,
} from '@netlab/shared';
import {
  silentLogger,
  startNatsServer,
  waitFor,
  type NatsServerHandle,
} from '@netlab/shared/testing';

jest.setTimeout(30_000);

describe('NATS client against a real nats-server', () => {
  let server: NatsServerHandle;
  let client: NatsClient;

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server.dispose();
  });
  beforeEach(async () => {
    client = await connectNats({
      servers: [server.url],
      name: 'test',
      logger: silentLogger(),
      maxPendingBytes: 4096,
      reconnectWaitMs: 100,
    });
  });
  afterEach(async () => {
    // A test that failed half-way must not leave the server down for the next one.
    if (!server.isRunning()) await server.restart();
    await client.close();
  });

  it('turns no responders into NATS_NO_RESPONDERS', async () => {
    const err: unknown = await client.request('netlab.nobody.home', 'x').catch((e: unknown) => e);
    expect(isNetlabError(err) && err.code).toBe('NATS_NO_RESPONDERS');
  });

  it('turns a silent responder into NATS_TIMEOUT', async () => {
    client.nc.subscribe('netlab.slow.verb', { callback: () => undefined });
    await client.nc.flush();
    const err: unknown = await client
      .request('netlab.slow.verb', 'x', { timeoutMs: 100 })
      .catch((e: unknown) => e);
    expect(isNetlabError(err) && err.code).toBe('NATS_TIMEOUT');
  });

  it('carries the request id in the x-request-id header', async () => {
    client.nc.subscribe('netlab.echo.id', {
      callback: (_e, msg) => void msg.respond(msg.headers?.get('x-request-id') ?? 'none'),
    });
    const reply = await client.request('netlab.echo.id', 'x', { requestId: 'trace-7' });
    expect(reply.string()).toBe('trace-7');
  });

  it('resubscribes after the server is killed and restarts, and bounds what it buffers meanwhile', async () => {
    const received: string[] = [];
    client.nc.subscribe('netlab.events.test.ping', {
      callback: (_e, msg) => void received.push(msg.string()),
    });
    await client.nc.flush();

    await server.kill();
    await waitFor('the client to notice the disconnect', () => !client.isConnected());

    // While disconnected, publishes are buffered up to maxPendingBytes, then fail fast.
    const subject = 'netlab.events.test.buffered';
    const payload = 'x'.repeat(1000);
    let accepted = 0;
    let refusal: unknown;
    for (let i = 0; i < 20 && refusal === undefined; i++) {
      try {
        client.publish(subject, payload);
        accepted++;
      } catch (err) {
        refusal = err;
      }
    }
    expect(accepted).toBe(Math.floor(4096 / (payload.length + subject.length)));
    expect(isNetlabError(refusal) && refusal.code).toBe('NATS_BUFFER_FULL');
    expect(client.pendingBytes()).toBeLessThanOrEqual(4096);

    await server.restart();
    await waitFor('the reconnect', () => client.isConnected(), { timeoutMs: 15_000 });
    expect(client.pendingBytes()).toBe(0);

    // The subscription made before the crash receives again, from another connection.
    const other = await connect({ servers: server.url });
    try {
      await waitFor('the old subscription to receive again', async () => {
        other.publish('netlab.events.test.ping', 'after-restart');
        await other.flush();
        return received.includes('after-restart');
      });
    } finally {
      await other.close();
    }
    expect(() => client.publish('netlab.events.test.ping', 'ok')).not.toThrow();
  });

  it('registers a micro service that $SRV.PING and $SRV.INFO list with its metadata', async () => {
    const service = await registerService(client.nc, {
      name: 'static',
      version: '1.2.3',
      metadata: { http: 'http://127.0.0.1:8081' },
    });
    try {
      const other = await connect({ servers: server.url });
      try {
        const svc = new Svcm(other).client();
        const pings = [];
        for await (const p of await svc.ping('static')) pings.push(p);
        expect(pings).toHaveLength(1);
        expect(pings[0]).toMatchObject({ name: 'static', version: '1.2.3', id: service.info().id });
        const infos = [];
        for await (const i of await svc.info('static')) infos.push(i);
        expect(infos[0]?.metadata).toMatchObject({ http: 'http://127.0.0.1:8081' });
      } finally {
        await other.close();
      }
    } finally {
      await service.stop();
    }
  });

  it('names event subjects after the service and kind', () => {
    expect(subjects.event('tcp-echo', 'stats')).toBe('netlab.events.tcp-echo.stats');
  });
});
