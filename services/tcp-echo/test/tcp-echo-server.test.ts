import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { captureLogger, waitFor } from '@netlab/shared/testing';
import { rejectionLine } from '../src/errors';
import {
  closed,
  connectTo,
  readBytes,
  readToEnd,
  startTcpEcho,
  type RunningEcho,
} from './fixtures/sockets';

jest.setTimeout(30_000);

/** Node reads a socket in chunks of at most 64 KiB (libuv's read buffer). */
const READ_CHUNK = 64 * 1024;

const running: RunningEcho[] = [];
const sockets: Socket[] = [];
async function start(...args: Parameters<typeof startTcpEcho>): Promise<RunningEcho> {
  const r = await startTcpEcho(...args);
  running.push(r);
  return r;
}
async function client(port: number, host?: string): Promise<Socket> {
  const s = await connectTo(port, host);
  sockets.push(s);
  return s;
}
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(running.splice(0).map((r) => r.close()));
});

describe('echo', () => {
  it('echoes every byte value 0x00-0xFF unchanged', async () => {
    const { port } = await start();
    const s = await client(port);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    s.end(all);
    expect(await readToEnd(s)).toEqual(all);
  });

  it('echoes a 10 MiB random stream byte for byte (same SHA-256), with backpressure both ways', async () => {
    const { port } = await start();
    const s = await client(port);
    const hashIn = createHash('sha256');
    const hashOut = createHash('sha256');
    let received = 0;
    s.on('data', (c: Buffer) => {
      hashIn.update(c);
      received += c.length;
    });
    const ended = once(s, 'end');
    for (let sent = 0; sent < 10 * 1024 * 1024; sent += 64 * 1024) {
      const chunk = randomBytes(64 * 1024);
      hashOut.update(chunk);
      if (!s.write(chunk)) await once(s, 'drain');
    }
    s.end();
    await ended;
    expect(received).toBe(10 * 1024 * 1024);
    expect(hashIn.digest('hex')).toBe(hashOut.digest('hex'));
  });

  it('echoes one-byte writes in order', async () => {
    const { port } = await start();
    const s = await client(port);
    const bytes = randomBytes(500);
    for (const b of bytes) {
      s.write(Buffer.of(b));
      await sleep(0); // separate writes become separate segments
    }
    s.end();
    expect(await readToEnd(s)).toEqual(bytes);
  });

  it('echoes many messages sent in one write', async () => {
    const { port } = await start();
    const s = await client(port);
    const lines = Array.from({ length: 1000 }, (_, i) => `message ${i}\n`).join('');
    s.end(lines);
    expect((await readToEnd(s)).toString()).toBe(lines);
  });

  it('serves 1,000 concurrent clients, each getting its own bytes back', async () => {
    const { port, echo } = await start();
    const clients: Socket[] = [];
    // Connect in waves so the SYN backlog never overflows, but keep all 1,000 open at once.
    for (let wave = 0; wave < 10; wave += 1) {
      clients.push(...(await Promise.all(Array.from({ length: 100 }, () => client(port)))));
    }
    await waitFor('1,000 open sessions', () => echo.stats().open === 1000);
    const payloads = clients.map((_, i) =>
      Buffer.from(`client ${i} ${randomBytes(24).toString('hex')}`),
    );
    const echoes = clients.map((s) => readToEnd(s));
    clients.forEach((s, i) => s.end(payloads[i]!));
    const results = await Promise.all(echoes);
    results.forEach((r, i) => expect(r).toEqual(payloads[i]));
    await waitFor('every session to close', () => echo.stats().open === 0);
    expect(echo.stats().accepted).toBe(1000);
  });

  it('on half-close echoes everything received, then ends the connection', async () => {
    const { port, echo } = await start();
    const s = await client(port);
    s.write('first part, ');
    s.end('then FIN');
    // The client can no longer send, yet the whole echo arrives before the server's FIN.
    expect((await readToEnd(s)).toString()).toBe('first part, then FIN');
    await closed(s);
    await waitFor('the session to close', () => echo.stats().open === 0);
  });

  it('echoes over IPv6 (::1)', async () => {
    const { port } = await start({}, '::1');
    const s = await client(port, '::1');
    expect(s.remoteFamily).toBe('IPv6');
    s.end('over v6');
    expect((await readToEnd(s)).toString()).toBe('over v6');
  });

  it('on :: serves IPv4 and IPv6 clients on one socket', async () => {
    const { port } = await start({}, '::');
    for (const host of ['127.0.0.1', '::1']) {
      const s = await client(port, host);
      s.end(host);
      expect((await readToEnd(s)).toString()).toBe(host);
    }
  });

  it('counts bytes in and out', async () => {
    const { port, echo } = await start();
    const s = await client(port);
    s.write('12345');
    await readBytes(s, 5);
    expect(echo.stats()).toMatchObject({ open: 1, bytesIn: 5, bytesOut: 5 });
    s.end();
    await closed(s);
    await waitFor('the session to close', () => echo.stats().open === 0);
    expect(echo.stats()).toMatchObject({ bytesIn: 5, bytesOut: 5 });
  });
});

describe('limits', () => {
  it('refuses connections past MAX_CONNECTIONS with one error line, leaving open sessions alone', async () => {
    const { logger, lines } = captureLogger('tcp-echo');
    const { port, echo } = await start({ maxConnections: 2, logger });
    const a = await client(port);
    const b = await client(port);
    await waitFor('two sessions', () => echo.stats().open === 2);
    const c = await client(port);
    expect((await readToEnd(c)).toString()).toBe(rejectionLine(2));
    expect(echo.stats()).toMatchObject({ open: 2, accepted: 2, rejected: 1 });
    expect(lines()).toContainEqual(
      expect.objectContaining({ code: 'TCP_ECHO_TOO_MANY_CONNECTIONS', rejected: 1 }),
    );

    a.write('still here');
    expect((await readBytes(a, 10)).toString()).toBe('still here');
    b.end('and here');
    expect((await readToEnd(b)).toString()).toBe('and here');
    await waitFor('a free slot', () => echo.stats().open === 1);
    const d = await client(port);
    d.end('a new session');
    expect((await readToEnd(d)).toString()).toBe('a new session');
  });

  it('closes a session idle for IDLE_TIMEOUT and counts it', async () => {
    const { logger, lines } = captureLogger('tcp-echo');
    const { port, echo } = await start({ idleTimeoutMs: 150, logger });
    const s = await client(port);
    s.write('hi');
    await readBytes(s, 2);
    s.resume();
    await once(s, 'end');
    await waitFor('the session to close', () => echo.stats().open === 0);
    expect(echo.stats().disconnects).toMatchObject({ idle: 1, slowReader: 0 });
    expect(echo.stats().open).toBe(0);
    expect(lines()).toContainEqual(expect.objectContaining({ code: 'TCP_ECHO_IDLE_TIMEOUT' }));
  });

  it('stops reading from a peer that does not read, holds a bounded buffer, and cuts it at WRITE_DEADLINE', async () => {
    const bufferBytes = 16 * 1024;
    const { logger, lines } = captureLogger('tcp-echo');
    const { port, echo } = await start({ writeDeadlineMs: 400, bufferBytes, logger });
    const s = await client(port);
    s.pause(); // never read the echo
    s.on('error', () => {});
    const chunk = randomBytes(256 * 1024);
    let written = 0;
    // Loopback buffers take several MiB before the server feels it; stop at 256 MiB regardless.
    while (!s.destroyed && written < 256 * 1024 * 1024 && echo.stats().stalled === 0) {
      written += chunk.length;
      if (!s.write(chunk)) await Promise.race([once(s, 'drain').catch(() => {}), sleep(50)]);
    }
    const stalled = await waitFor('the session to stall', () => {
      const st = echo.stats();
      return st.stalled === 1 ? st : undefined;
    });
    // The bound: one read chunk past the high-water mark, in each direction.
    expect(stalled.bufferedBytes).toBeLessThanOrEqual(2 * (bufferBytes + READ_CHUNK));
    expect(stalled.bytesIn).toBeLessThan(written);
    await waitFor('the write deadline', () => echo.stats().open === 0);
    expect(echo.stats().disconnects).toMatchObject({ slowReader: 1, idle: 0 });
    expect(echo.stats().stalled).toBe(0);
    expect(lines()).toContainEqual(expect.objectContaining({ code: 'TCP_ECHO_WRITE_DEADLINE' }));
    s.resume(); // reading again, the client learns of the reset
    await closed(s);
  });

  it('turns TCP keep-alive on with TCP_KEEPALIVE, and off with 0', async () => {
    const timerOf = async (keepAliveMs: number): Promise<string> => {
      const { port, echo } = await start({ keepAliveMs });
      const s = await client(port);
      await waitFor('the session', () => echo.stats().open === 1);
      // /proc/net/tcp "tr" column: 2 means the keep-alive timer is armed.
      const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
      const serverSide = readFileSync('/proc/net/tcp', 'utf8')
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .find(
          ([, local, remote]) =>
            local?.endsWith(`:${hex(port)}`) && remote?.endsWith(`:${hex(s.localPort!)}`),
        );
      return serverSide![5]!.split(':')[0]!;
    };
    expect(await timerOf(5000)).toBe('02');
    expect(await timerOf(0)).toBe('00');
  });
});

describe('resets and floods', () => {
  it('survives peers that reset (ECONNRESET) and keeps echoing', async () => {
    const { port, echo } = await start();
    for (let i = 0; i < 50; i += 1) {
      const s = await client(port);
      s.write(randomBytes(32 * 1024));
      await sleep(1);
      s.resetAndDestroy();
    }
    await waitFor('every reset session to close', () => echo.stats().open === 0);
    expect(echo.stats().disconnects.reset).toBeGreaterThan(0);
    const ok = await client(port);
    ok.end('alive');
    expect((await readToEnd(ok)).toString()).toBe('alive');
  });
});

describe('shutdown', () => {
  it('stops accepting, lets an open session keep echoing, then ends it after the grace', async () => {
    const { port, echo } = await start();
    const s = await client(port);
    const all = readToEnd(s);
    s.write('before ');
    await waitFor('the echo', () => echo.stats().bytesOut === 7);
    const done = echo.shutdown(400, 200);
    const refused = connect({ port, host: '127.0.0.1' });
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNREFUSED');
    s.write('during');
    await expect(done).resolves.toBe(false);
    expect((await all).toString()).toBe('before during');
    expect(echo.stats().disconnects.shutdown).toBe(1);
  });

  it('resolves true when every session finished within the grace', async () => {
    const { port, echo } = await start();
    const s = await client(port);
    const done = echo.shutdown(5000);
    s.end('bye');
    expect((await readToEnd(s)).toString()).toBe('bye');
    await expect(done).resolves.toBe(true);
    expect(echo.stats().disconnects.shutdown).toBe(0);
  });
});

describe('the in-flight count', () => {
  it('reports each session to trackSession while it is open', async () => {
    let inFlight = 0;
    const trackSession = () => {
      inFlight += 1;
      return () => void (inFlight -= 1);
    };
    const { port } = await start({ trackSession });
    const a = await client(port);
    await client(port);
    await waitFor('two sessions counted', () => inFlight === 2);
    a.end();
    await waitFor('one left', () => inFlight === 1);
  });
});
