import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { captureLogger, silentLogger, waitFor } from '@netlab/shared/testing';
import { createUdpEchoSocket, type UdpEchoSocket } from '../src/udp-echo-socket';

const open: UdpEchoSocket[] = [];
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(open.splice(0).map((u) => u.close()));
});

async function start(
  host: string,
  maxDatagram = 1024,
  maxQueueBytes = 1024 * 1024,
  logger = silentLogger(),
) {
  const udp = createUdpEchoSocket({ logger, maxDatagram, maxQueueBytes });
  open.push(udp);
  const { port } = await udp.bind(0, host);
  return { udp, port };
}

function client(type: 'udp4' | 'udp6'): Socket {
  const c = createSocket(type);
  clients.push(c);
  return c;
}

async function roundTrip(c: Socket, port: number, host: string, data: Buffer): Promise<Buffer> {
  const reply = once(c, 'message') as Promise<[Buffer]>;
  c.send(data, port, host);
  return (await reply)[0];
}

describe('UDP echo', () => {
  it('sends each datagram back to its sender unchanged', async () => {
    const { udp, port } = await start('127.0.0.1');
    const c = client('udp4');
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(await roundTrip(c, port, '127.0.0.1', all)).toEqual(all);
    await waitFor('the send to complete', () => udp.stats().echoed === 1);
    expect(udp.stats()).toMatchObject({ datagramsIn: 1, echoed: 1, bytesIn: 256, bytesOut: 256 });
  });

  it('drops a datagram over UDP_MAX_DATAGRAM and counts it, echoing the next one', async () => {
    const { logger, lines } = captureLogger('tcp-echo');
    const { udp, port } = await start('127.0.0.1', 100, 1024 * 1024, logger);
    const c = client('udp4');
    const reply = once(c, 'message') as Promise<[Buffer]>;
    c.send(Buffer.alloc(101, 1), port, '127.0.0.1');
    c.send(Buffer.alloc(100, 2), port, '127.0.0.1');
    // Loopback keeps order: had the first come back, it would be the first reply.
    expect((await reply)[0]).toEqual(Buffer.alloc(100, 2));
    await waitFor('the counters', () => udp.stats().echoed === 1);
    expect(udp.stats()).toMatchObject({ datagramsIn: 2, tooLarge: 1, echoed: 1 });
    expect(lines()).toContainEqual(
      expect.objectContaining({ code: 'TCP_ECHO_DATAGRAM_TOO_LARGE', size: 101, max: 100 }),
    );
  });

  it('echoes an empty datagram', async () => {
    const { port } = await start('127.0.0.1');
    const c = client('udp4');
    expect(await roundTrip(c, port, '127.0.0.1', Buffer.alloc(0))).toEqual(Buffer.alloc(0));
  });

  it('drops datagrams while UDP_MAX_QUEUE bytes wait to be sent', async () => {
    // A queue bound of 0 bytes refuses every echo: the check runs before each send.
    const { udp, port } = await start('127.0.0.1', 1024, 0);
    const c = client('udp4');
    c.send(Buffer.from('x'), port, '127.0.0.1');
    await waitFor('the drop', () => udp.stats().queueFull === 1);
    expect(udp.stats().echoed).toBe(0);
  });

  it('echoes over IPv6, and on :: over IPv4 too', async () => {
    const v6 = await start('::1');
    expect(await roundTrip(client('udp6'), v6.port, '::1', Buffer.from('v6'))).toEqual(
      Buffer.from('v6'),
    );
    const dual = await start('::');
    expect(await roundTrip(client('udp4'), dual.port, '127.0.0.1', Buffer.from('v4'))).toEqual(
      Buffer.from('v4'),
    );
  });
});
