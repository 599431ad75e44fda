import { createServer, type Server, type Socket } from 'node:net';
import { listen, silentLogger } from '@netlab/shared/testing';
import { tcpEchoOnce, udpEchoOnce } from '../src/echo-client';
import { createUdpEchoSocket } from '../src/udp-echo-socket';
import { connectTo, startTcpEcho, type RunningEcho } from './fixtures/sockets';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function echoServer(overrides = {}): Promise<RunningEcho> {
  const r = await startTcpEcho(overrides);
  cleanups.push(() => r.close());
  return r;
}

/** A real server that misbehaves in a way the client must notice. */
async function rogue(onConnection: (s: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    onConnection(s);
  });
  const { port } = await listen(server, 0, '127.0.0.1');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return port;
}

const target = (port: number) => ({ host: '127.0.0.1', port });

describe('tcpEchoOnce', () => {
  it('returns the echo with its round-trip and connect times', async () => {
    const { port } = await echoServer();
    const trip = await tcpEchoOnce(target(port), Buffer.from('hello'), 2000);
    expect(trip.reply.toString()).toBe('hello');
    expect(trip.rttMs).toBeGreaterThan(0);
    expect(trip.connectMs).toBeGreaterThan(0);
  });

  it('reports the server refusing with TCP_ECHO_TOO_MANY_CONNECTIONS', async () => {
    const { port } = await echoServer({ maxConnections: 1 });
    const holder = await connectTo(port);
    cleanups.push(() => holder.destroy());
    await expect(tcpEchoOnce(target(port), Buffer.from('hi'), 2000)).rejects.toMatchObject({
      code: 'TCP_ECHO_TOO_MANY_CONNECTIONS',
    });
  });

  it('notices an echo that differs (TCP_ECHO_CLIENT_MISMATCH)', async () => {
    const port = await rogue((s) => s.on('data', (d: Buffer) => s.write(d.map((b) => b ^ 1))));
    await expect(tcpEchoOnce(target(port), Buffer.from('abc'), 2000)).rejects.toMatchObject({
      code: 'TCP_ECHO_CLIENT_MISMATCH',
    });
  });

  it('notices a server that closes before the whole echo (TCP_ECHO_CLIENT_CLOSED)', async () => {
    const port = await rogue((s) => s.once('data', (d: Buffer) => s.end(d.subarray(0, 2))));
    await expect(tcpEchoOnce(target(port), Buffer.from('abcdef'), 2000)).rejects.toMatchObject({
      code: 'TCP_ECHO_CLIENT_CLOSED',
    });
  });

  it('gives up after the timeout (TCP_ECHO_CLIENT_TIMEOUT)', async () => {
    const port = await rogue(() => {});
    await expect(tcpEchoOnce(target(port), Buffer.from('anyone?'), 100)).rejects.toMatchObject({
      code: 'TCP_ECHO_CLIENT_TIMEOUT',
    });
  });

  it('reports a refused connection (TCP_ECHO_CLIENT_CONNECT_FAILED)', async () => {
    const probe = createServer();
    const { port } = await listen(probe, 0, '127.0.0.1');
    await new Promise((r) => probe.close(r));
    await expect(tcpEchoOnce(target(port), Buffer.from('x'), 2000)).rejects.toMatchObject({
      code: 'TCP_ECHO_CLIENT_CONNECT_FAILED',
    });
  });
});

describe('udpEchoOnce', () => {
  async function udpServer(maxDatagram: number): Promise<number> {
    const udp = createUdpEchoSocket({
      logger: silentLogger(),
      maxDatagram,
      maxQueueBytes: 1 << 20,
    });
    const { port } = await udp.bind(0, '127.0.0.1');
    cleanups.push(() => udp.close());
    return port;
  }

  it('returns the datagram that came back', async () => {
    const port = await udpServer(1024);
    const trip = await udpEchoOnce(target(port), Buffer.from('ping'), 2000);
    expect(trip.reply.toString()).toBe('ping');
  });

  it('times out when the server drops the datagram', async () => {
    const port = await udpServer(3);
    await expect(udpEchoOnce(target(port), Buffer.from('four'), 100)).rejects.toMatchObject({
      code: 'TCP_ECHO_CLIENT_TIMEOUT',
    });
  });
});
