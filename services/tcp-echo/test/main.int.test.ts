import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect } from 'node:net';
import { Svcm, type ServiceInfo } from '@nats-io/services';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { subjects } from '@netlab/shared';
import { startNatsServer, waitFor, type NatsServerHandle } from '@netlab/shared/testing';
import type { EchoStats } from '../src/stats-reporter';
import { connectTo, readBytes, readToEnd } from './fixtures/sockets';
import {
  httpGet,
  MAIN,
  metricValue,
  startEchoProcess,
  type EchoProcess,
} from './fixtures/echo-process';

jest.setTimeout(30_000);

let server: EchoProcess | undefined;
afterEach(async () => {
  await server?.kill();
  server = undefined;
});

describe('tcp-echo process', () => {
  it('echoes TCP and UDP on PORT and serves /healthz, /readyz and /metrics on HEALTH_PORT', async () => {
    server = await startEchoProcess();
    const s = await connectTo(server.port);
    s.end('tcp bytes');
    expect((await readToEnd(s)).toString()).toBe('tcp bytes');

    const udp = createSocket('udp4');
    const reply = once(udp, 'message') as Promise<[Buffer]>;
    udp.send('udp bytes', server.port, '127.0.0.1');
    expect((await reply)[0].toString()).toBe('udp bytes');
    udp.close();

    expect(await httpGet(server.healthPort, '/healthz')).toMatchObject({ status: 200 });
    expect(await httpGet(server.healthPort, '/readyz')).toMatchObject({ status: 200 });
    const text = await waitFor('the counters to settle', async () => {
      const body = (await httpGet(server!.healthPort, '/metrics')).body;
      return metricValue(body, 'tcp_echo_udp_datagrams_total{result="echoed"') === 1
        ? body
        : undefined;
    });
    expect(metricValue(text, 'tcp_echo_connections_total{')).toBe(1);
    expect(metricValue(text, 'tcp_echo_bytes_received_total{transport="tcp"')).toBe(9);
    expect(metricValue(text, 'tcp_echo_bytes_sent_total{transport="udp"')).toBe(9);
    expect(text).toContain('process_resident_memory_bytes');
    const notFound = await httpGet(server.healthPort, '/nope');
    expect(notFound.status).toBe(404);
    expect(JSON.parse(notFound.body)).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('on SIGTERM stops accepting, lets an open session echo during the grace, then closes it and exits 0', async () => {
    server = await startEchoProcess({ SHUTDOWN_GRACE: '2s' });
    const { port, healthPort } = server;
    const s = await connectTo(port);
    const everything = readToEnd(s);
    s.write('before ');
    await waitFor('the first echo', () => s.bytesRead === 7);
    server.proc.kill('SIGTERM');
    await waitFor('the listener to close', () =>
      server!.lines.some((l) => l.msg === 'stopped accepting; letting sessions finish'),
    );
    const refused = connect({ port, host: '127.0.0.1' });
    expect(((await once(refused, 'error')) as [NodeJS.ErrnoException])[0].code).toBe(
      'ECONNREFUSED',
    );
    expect((await httpGet(healthPort, '/readyz')).status).toBe(503);
    s.write('during the grace');
    await readBytes(s, 16);
    s.resume();
    expect((await everything).toString()).toBe('before during the grace');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.lines.map((l) => l.msg)).toContain(
      'grace ran out: closing the remaining sessions',
    );
  });

  it('exits 2 naming each invalid variable', async () => {
    const proc = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH,
        PORT: 'seven',
        UDP_MAX_DATAGRAM: '1MiB',
        TCP_KEEPALIVE: '10ms',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(proc, 'exit')) as [number];
    expect(code).toBe(2);
    expect(stderr).toContain('PORT="seven"');
    expect(stderr).toContain('UDP_MAX_DATAGRAM="1MiB": expected a size from 1 to 65507 bytes');
    expect(stderr).toContain('TCP_KEEPALIVE="10ms"');
  });

  describe('on NATS', () => {
    let nats: NatsServerHandle;
    let nc: NatsConnection;
    beforeAll(async () => {
      nats = await startNatsServer();
      nc = await natsConnect({ servers: nats.url });
    });
    afterAll(async () => {
      await nc.close();
      await nats.dispose();
    });

    it('registers as micro service tcp-echo with http, tcp and udp addresses, and answers stats', async () => {
      server = await startEchoProcess({ NATS_URL: nats.url, NETLAB_INSTANCE: 'tcp-echo-7' });
      const { port, healthPort } = server;
      const client = new Svcm(nc).client();
      const info = await waitFor('the registration', async () => {
        const found: ServiceInfo[] = [];
        for await (const i of await client.info('tcp-echo')) found.push(i);
        return found[0];
      });
      const { instance, ...addresses } = info.metadata ?? {};
      expect(instance).toMatch(/^tcp-echo/);
      expect(addresses).toEqual({
        http: `http://127.0.0.1:${healthPort}`,
        tcp: `127.0.0.1:${port}`,
        udp: `127.0.0.1:${port}`,
      });
      expect(info.endpoints.map((e) => e.subject)).toContain(subjects.tcpEchoStats);

      const s = await connectTo(port);
      s.write('abc');
      await readBytes(s, 3);
      const reply = await nc.request(subjects.tcpEchoStats, '', { timeout: 2000 });
      const stats = reply.json<EchoStats>();
      expect(stats).toMatchObject({
        instance: 'tcp-echo-7',
        tcp: { address: `127.0.0.1:${port}`, open: 1, accepted: 1, bytesIn: 3, bytesOut: 3 },
        udp: { address: `127.0.0.1:${port}`, datagramsIn: 0 },
      });
      s.destroy();
    });

    it('publishes a stats event every STATS_INTERVAL, not one per connection', async () => {
      const events: EchoStats[] = [];
      const sub = nc.subscribe(subjects.event('tcp-echo', 'stats'), {
        callback: (_e, m) => void events.push(m.json<EchoStats>()),
      });
      await nc.flush();
      const started = Date.now();
      server = await startEchoProcess({ NATS_URL: nats.url, STATS_INTERVAL: '300ms' });
      for (let i = 0; i < 20; i += 1) {
        const s = await connectTo(server.port);
        s.end('x');
        await readToEnd(s);
      }
      await waitFor('two stats events after the connections', () =>
        events.filter((e) => e.tcp.accepted === 20).length >= 2 ? true : undefined,
      );
      // They come by the clock, not per connection: no more than one per period.
      expect(events.length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 300) + 1);
      sub.unsubscribe();
    });
  });
});
