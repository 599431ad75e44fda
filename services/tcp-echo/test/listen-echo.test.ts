import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { silentLogger } from '@netlab/shared/testing';
import { hostPort, listenEcho } from '../src/listen-echo';
import { createUdpEchoSocket } from '../src/udp-echo-socket';

describe('listenEcho', () => {
  it('binds TCP and UDP on the same port number', async () => {
    const tcp = createServer();
    const udp = createUdpEchoSocket({
      logger: silentLogger(),
      maxDatagram: 1024,
      maxQueueBytes: 65536,
    });
    const { port } = await listenEcho(tcp, udp, 0, '127.0.0.1');
    try {
      const c = createSocket('udp4');
      const reply = once(c, 'message') as Promise<[Buffer]>;
      c.send('same port', port, '127.0.0.1');
      expect((await reply)[0].toString()).toBe('same port');
      c.close();
    } finally {
      tcp.close();
      await udp.close();
    }
  });

  it('fails, with TCP closed again, when the UDP port of a fixed PORT is taken', async () => {
    const squatter = createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind(0, '127.0.0.1', resolve));
    const taken = squatter.address().port;
    const tcp = createServer();
    const udp = createUdpEchoSocket({ logger: silentLogger(), maxDatagram: 1, maxQueueBytes: 1 });
    try {
      await expect(listenEcho(tcp, udp, taken, '127.0.0.1')).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
      expect(tcp.listening).toBe(false);
    } finally {
      squatter.close();
    }
  });
});

describe('hostPort', () => {
  it('brackets IPv6 literals', () => {
    expect(hostPort('127.0.0.1', 7001)).toBe('127.0.0.1:7001');
    expect(hostPort('::1', 7001)).toBe('[::1]:7001');
  });
});
