import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '@netlab/shared/testing';
import {
  httpGet,
  metricValue,
  openFds,
  rssBytes,
  startEchoProcess,
  type EchoProcess,
} from './fixtures/echo-process';

jest.setTimeout(60_000);

const run = promisify(execFile);
const FLOOD = join(__dirname, 'fixtures', 'python_flood.py');
const PYTHON_CLIENT = join(__dirname, 'fixtures', 'python_client.py');

/** Node reads a socket in chunks of at most 64 KiB (libuv's read buffer). */
const READ_CHUNK = 64 * 1024;
const TCP_BUFFER = 16 * 1024;
/** The documented bound: a stalled session holds at most one read chunk past the high-water mark each way. */
const PER_STALLED_SESSION = 2 * (TCP_BUFFER + READ_CHUNK);

let server: EchoProcess | undefined;
afterEach(async () => {
  await server?.kill();
  server = undefined;
});

async function metrics(): Promise<string> {
  return (await httpGet(server!.healthPort, '/metrics')).body;
}

describe('1,000 clients that never read', () => {
  it('are each cut by the write deadline while the server holds a bounded buffer', async () => {
    const clients = 1000;
    server = await startEchoProcess({ WRITE_DEADLINE: '1s', TCP_BUFFER: '16KiB' });
    const baseline = rssBytes(server.pid);
    let peakRss = baseline;
    let peakBuffered = 0;
    let peakStalled = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peakRss = Math.max(peakRss, rssBytes(server.pid));
        const text = await metrics();
        peakBuffered = Math.max(peakBuffered, metricValue(text, 'tcp_echo_buffered_bytes{') ?? 0);
        peakStalled = Math.max(
          peakStalled,
          metricValue(text, 'tcp_echo_connections_stalled{') ?? 0,
        );
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    // 384 KiB each: well past what the kernel buffers between client and server take before the
    // server feels backpressure (measured: 130-250 KiB), so every session ends up paused. The
    // server echoes only that much per session (~250 MB in all), which takes seconds on a quiet
    // machine; the generous timeout is for a busy one.
    const { stdout } = await run('python3', [
      FLOOD,
      '127.0.0.1',
      String(server.port),
      String(clients),
      String(384 * 1024),
      '90',
    ]);
    sampling = false;
    await sampler;
    const flood = JSON.parse(stdout) as { connected: number; disconnected: number };
    expect(flood).toMatchObject({ connected: clients, disconnected: clients });

    const text = await metrics();
    expect(metricValue(text, 'tcp_echo_disconnects_total{reason="write_deadline"')).toBe(clients);
    expect(metricValue(text, 'tcp_echo_connections_open{')).toBe(0);
    expect(peakStalled).toBeGreaterThan(0);
    expect(peakBuffered).toBeLessThanOrEqual(clients * PER_STALLED_SESSION);
    // RSS also carries the heap and allocator slack; 64 MiB on top of the buffers covers it.
    expect(peakRss - baseline).toBeLessThanOrEqual(
      clients * PER_STALLED_SESSION + 64 * 1024 * 1024,
    );
  }, 120_000);
});

describe('connection floods', () => {
  it('returns to its baseline of open fds after connect/close and reset floods, without crashing', async () => {
    server = await startEchoProcess();
    const { port, pid } = server;
    const baseline = openFds(pid);

    const wave = async (n: number, end: (s: Socket) => void): Promise<void> => {
      await Promise.all(
        Array.from({ length: n }, async () => {
          const s = connect({ port, host: '127.0.0.1' });
          s.on('error', () => {});
          await once(s, 'connect');
          end(s);
          await once(s, 'close');
        }),
      );
    };
    for (let i = 0; i < 10; i += 1) {
      await wave(200, (s) => s.end()); // polite: FIN
      await wave(100, (s) => {
        s.write(Buffer.alloc(8192, 1)); // unread data makes the close a reset
        s.resetAndDestroy();
      });
    }
    await waitFor('the sessions to close', async () =>
      metricValue(await metrics(), 'tcp_echo_connections_open{') === 0 ? true : undefined,
    );
    await waitFor('fds back to the baseline', () => openFds(pid) <= baseline);
    expect(server.proc.exitCode).toBeNull();
    expect(metricValue(await metrics(), 'tcp_echo_connections_total{')).toBe(3000);

    const s = connect({ port, host: '127.0.0.1' });
    s.end('still echoing');
    let echoed = '';
    s.on('data', (c: Buffer) => (echoed += c.toString()));
    await once(s, 'close');
    expect(echoed).toBe('still echoing');
  });
});

describe('the source material’s Python client', () => {
  it('connects, sendall()s, recv()s until the echo is complete, and closes', async () => {
    server = await startEchoProcess();
    const message = 'Hello, netlab! '.repeat(500); // 7.5 KB: more than one recv(1024)
    const { stdout } = await run('python3', [
      PYTHON_CLIENT,
      '127.0.0.1',
      String(server.port),
      message,
    ]);
    expect(stdout).toBe(message);
  });
});
