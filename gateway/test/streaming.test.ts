import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WebSocket, WebSocketServer } from 'ws';
import { waitFor } from '@netlab/shared/testing';
import {
  addUpstream,
  startGateway,
  startUpstream,
  type RunningGateway,
  type Upstream,
} from './helpers';

jest.setTimeout(30_000);

/** `total` pseudo-random bytes in 64 KiB chunks, produced as they are read (never all at once). */
function generated(total: number, seed: Buffer): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(65_536, total - sent);
      const chunk = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i += seed.length) seed.copy(chunk, i, 0, Math.min(seed.length, n - i));
      chunk.writeUInt32LE(sent >>> 0, 0);
      sent += n;
      this.push(chunk);
    },
  });
}

describe('streaming through the gateway', () => {
  let gw: RunningGateway;
  let up: Upstream;
  let wss: WebSocketServer;
  let produced = 0;
  let producedHash = createHash('sha256');
  const upgrades: import('node:http').IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    gw = await startGateway({
      settings: { maxBodySize: 256 * 1024 * 1024 },
      routes: [
        { name: 'events', prefix: '/events', service: 'dynamic', timeouts: { body: 300 } },
        { name: 'ws', prefix: '/ws/', service: 'dynamic' },
        { name: 'rest', prefix: '/', service: 'dynamic' },
      ],
    });
    up = await startUpstream('dynamic', (req, res) => {
      if (req.url === '/echo') {
        // Echo the body back as it arrives, hashing what was received.
        const hash = createHash('sha256');
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.on('data', (d: Buffer) => hash.update(d));
        req.on('end', () => res.addTrailers({}));
        req.pipe(res);
        return;
      }
      if (req.url?.startsWith('/download/')) {
        const size = Number(req.url.slice('/download/'.length));
        res.writeHead(200, { 'content-length': String(size) });
        produced = 0;
        producedHash = createHash('sha256');
        const body = generated(size, Buffer.from('netlab-download!'));
        body.on('data', (d: Buffer) => {
          produced += d.length;
          producedHash.update(d);
        });
        void pipeline(body, res).catch(() => undefined);
        return;
      }
      if (req.url === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write('data: first\n\n');
        // Silent for longer than the route's body timeout, then one more event.
        setTimeout(() => res.end('data: second\n\n'), 800);
        return;
      }
      res.statusCode = 404;
      res.end();
    });
    wss = new WebSocketServer({ server: up.server });
    wss.on('connection', (socket, req) => {
      upgrades.push(req.headers);
      socket.on('message', (data: Buffer) => socket.send(`echo ${req.url}: ${data.toString()}`));
    });
    await addUpstream(gw.gateway, 'dynamic', up);
  });
  afterAll(async () => {
    wss.close();
    await gw.close();
    await up.close();
  });

  it('streams a 64 MiB upload and its echo both ways at once, byte for byte', async () => {
    const size = 64 * 1024 * 1024;
    const seed = randomBytes(4096);
    const sent = createHash('sha256');
    const received = createHash('sha256');
    let receivedBytes = 0;
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${gw.url}/echo`, { method: 'POST' }, (res) => {
        expect(res.statusCode).toBe(200);
        res.on('data', (d: Buffer) => {
          received.update(d);
          receivedBytes += d.length;
        });
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      const body = generated(size, seed);
      body.on('data', (d: Buffer) => sent.update(d));
      body.pipe(req);
    });
    expect(receivedBytes).toBe(size);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
  });

  it('streams a download with backpressure: a slow reader holds the upstream back', async () => {
    const size = 64 * 1024 * 1024;
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) =>
      httpRequest(`${gw.url}/download/${size}`, resolve).on('error', reject).end(),
    );
    // Read nothing for a while: only socket buffers' worth may leave the upstream.
    res.pause();
    await waitFor('the pipeline to fill up', async () => {
      const before = produced;
      await new Promise((r) => setTimeout(r, 200));
      return produced > 0 && produced === before;
    });
    // About 12 MiB sit in loopback socket buffers; nothing else may pile up.
    expect(produced).toBeLessThan(32 * 1024 * 1024);
    const hash = createHash('sha256');
    let bytes = 0;
    res.on('data', (d: Buffer) => {
      bytes += d.length;
      hash.update(d);
    });
    res.resume();
    await new Promise((r) => res.on('end', r));
    expect(bytes).toBe(size);
    expect(hash.digest('hex')).toBe(producedHash.digest('hex'));
  });

  it('passes server-sent events as they come, and a silent stream outlives the body timeout', async () => {
    const events: { text: string; at: number }[] = [];
    const start = Date.now();
    await new Promise<void>((resolve, reject) => {
      httpRequest(`${gw.url}/events`, { headers: { accept: 'text/event-stream' } }, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        res.setEncoding('utf8');
        res.on('data', (d: string) => events.push({ text: d, at: Date.now() - start }));
        res.on('end', resolve);
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    const text = events.map((e) => e.text).join('');
    expect(text).toBe('data: first\n\ndata: second\n\n');
    // The first event arrived on its own, long before the stream ended: nothing buffered it.
    expect(events[0]!.text).toBe('data: first\n\n');
  });

  it('relays a WebSocket both ways', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws/chat?room=1`);
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('hello'));
      ws.on('message', (d: Buffer) => resolve(d.toString()));
      ws.on('error', reject);
    });
    expect(reply).toBe('echo /ws/chat?room=1: hello');
    expect(gw.gateway.upgrades.open()).toBe(1);
    ws.close();
    await waitFor('the tunnel to close', () => gw.gateway.upgrades.open() === 0);
    expect(upgrades.at(-1)).toMatchObject({ 'x-forwarded-for': '127.0.0.1', upgrade: 'websocket' });
  });

  it('relays a refused upgrade as an answer and closes the connection', async () => {
    const noWs = await startUpstream('plain', (_req, res) => {
      res.statusCode = 404;
      res.end('no websockets here');
    });
    const g = await startGateway({ routes: [{ name: 'all', prefix: '/', service: 'plain' }] });
    try {
      await addUpstream(g.gateway, 'plain', noWs);
      const ws = new WebSocket(`ws://127.0.0.1:${g.port}/ws/x`);
      const err = await new Promise<Error>((resolve) => ws.on('error', resolve));
      expect(err.message).toMatch(/Unexpected server response: 404/);
      expect(g.gateway.upgrades.open()).toBe(0);
    } finally {
      await g.close();
      await noWs.close();
    }
  });

  it('answers an upgrade with no healthy instance with 503', async () => {
    const g = await startGateway();
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${g.port}/ws/x`);
      const err = await new Promise<Error>((resolve) => ws.on('error', resolve));
      expect(err.message).toMatch(/Unexpected server response: 503/);
    } finally {
      await g.close();
    }
  });
});
