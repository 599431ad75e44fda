import { PassThrough } from 'node:stream';
import { silentLogger } from '@netlab/shared/testing';
import { runInteractive } from '../src/interactive-session';
import { createUdpEchoSocket } from '../src/udp-echo-socket';
import { startTcpEcho } from './fixtures/sockets';

function collect(stream: PassThrough): () => string {
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return () => text;
}

describe('interactive session', () => {
  it('TCP: echoes each line, half-closes at the end of input and waits for the rest', async () => {
    const { port, close } = await startTcpEcho();
    try {
      const input = new PassThrough();
      const output = new PassThrough();
      const timing = new PassThrough();
      const text = collect(output);
      const times = collect(timing);
      const session = runInteractive({
        target: { host: '127.0.0.1', port },
        transport: 'tcp',
        input,
        output,
        timing,
        timeoutMs: 2000,
      });
      input.write('first line\n');
      input.end('second line\n');
      await expect(session).resolves.toEqual({ sentBytes: 23, receivedBytes: 23 });
      expect(text()).toBe('first line\nsecond line\n');
      expect(times().match(/round trip [\d.]+ ms/g)).toHaveLength(2);
    } finally {
      await close();
    }
  });

  it('TCP: fails with TCP_ECHO_CLIENT_CLOSED when the server closes the session first', async () => {
    const { port, close } = await startTcpEcho({ idleTimeoutMs: 100 });
    try {
      const input = new PassThrough(); // never ends: the user walked away
      const session = runInteractive({
        target: { host: '127.0.0.1', port },
        transport: 'tcp',
        input,
        output: new PassThrough(),
        timing: undefined,
        timeoutMs: 2000,
      });
      await expect(session).rejects.toMatchObject({ code: 'TCP_ECHO_CLIENT_CLOSED' });
    } finally {
      await close();
    }
  });

  it('UDP: sends one datagram per line and prints each reply on its own line', async () => {
    const udp = createUdpEchoSocket({
      logger: silentLogger(),
      maxDatagram: 1024,
      maxQueueBytes: 1 << 20,
    });
    const { port } = await udp.bind(0, '127.0.0.1');
    try {
      const input = new PassThrough();
      const output = new PassThrough();
      const text = collect(output);
      const session = runInteractive({
        target: { host: '127.0.0.1', port },
        transport: 'udp',
        input,
        output,
        timing: undefined,
        timeoutMs: 2000,
      });
      input.end('one\ntwo\n');
      await expect(session).resolves.toEqual({ sentBytes: 6, receivedBytes: 6 });
      expect(text()).toBe('one\ntwo\n');
    } finally {
      await udp.close();
    }
  });
});
