import { connect } from 'node:net';
import WebSocket from 'ws';
import { waitFor } from '@netlab/shared/testing';
import type { QuoteChange } from '../src/stock-repository';
import { startTestApp, type TestApp } from './harness';

const change = (i: number): QuoteChange => ({
  code: String(100000 + i),
  shortName: `Stock ${'x'.repeat(150)} ${i}`,
  price: i,
  previousPrice: i - 1,
  changePct: 1,
  turnoverPct: 1,
  high: i,
  date: '2026-11-20',
});

describe('the live-update hub', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { STREAM_HEARTBEAT: '100ms', STREAM_MAX_BUFFERED: '64KiB' } });
  });
  afterAll(() => t?.close());

  it('sends SSE keep-alive comments every STREAM_HEARTBEAT', async () => {
    const socket = connect(t.port, '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    socket.write('GET /api/stream/quotes HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
    try {
      await waitFor('two keep-alives', () => received.split(': keep-alive\n\n').length > 2, {
        timeoutMs: 5000,
      });
      expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*content-type: text\/event-stream/i);
      expect(received).toContain('retry: 2000\n');
    } finally {
      socket.destroy();
    }
  });

  it('drops a WebSocket client that stops answering pings', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${t.port}/ws/quotes`, { autoPong: false });
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    await new Promise((r) => ws.once('open', r));
    expect(await closed).toBe(1006);
  });

  it('disconnects a live client that does not read once STREAM_MAX_BUFFERED is unsent', async () => {
    const socket = connect(t.port, '127.0.0.1');
    let headers = '';
    socket.once('data', (d: Buffer) => {
      headers = d.toString();
      socket.pause(); // read nothing more: the kernel buffers fill, then the server's
    });
    socket.write('GET /api/stream/quotes HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor('the stream to open', () => headers.startsWith('HTTP/1.1 200'));
    const batch = Array.from({ length: 500 }, (_, i) => change(i));
    const dropped = async () =>
      /dynamic_stream_slow_clients_dropped_total\{[^}]*transport="sse"[^}]*\} 1/.test(
        await t.metrics(),
      );
    for (let i = 0; i < 400 && !(await dropped()); i++) t.hub.publish(batch); // ~110 KB an event
    expect(await dropped()).toBe(true);
    await waitFor('the client to be gone', () => t.hub.clients() === 0);
    socket.destroy();
  });
});
