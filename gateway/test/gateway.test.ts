import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { listen, waitFor } from '@netlab/shared/testing';
import {
  addUpstream,
  startGateway,
  startUpstream,
  type RunningGateway,
  type Upstream,
} from './helpers';

jest.setTimeout(20_000);

/** A raw client connection that collects what it reads and notes when it closes. */
function rawClient(port: number): {
  socket: Socket;
  text: () => string;
  chunks: Buffer[];
  closed: Promise<void>;
} {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, chunks, closed, text: () => Buffer.concat(chunks).toString('latin1') };
}

describe('the proxy hot path', () => {
  let gw: RunningGateway;
  let up: Upstream;
  const upstreamReads: Buffer[][] = [];
  let raw: ReturnType<typeof createNetServer>;
  let rawPort: number;

  beforeAll(async () => {
    gw = await startGateway();
    up = await startUpstream('static', (req, res) => {
      req.resume();
      req.on('end', () => res.end('x'.repeat(1024)));
    });
    await addUpstream(gw.gateway, 'static', up);
    // A raw upstream that records how the request arrived, read by read.
    raw = createNetServer((socket) => {
      const reads: Buffer[] = [];
      upstreamReads.push(reads);
      socket.on('data', (d: Buffer) => {
        reads.push(d);
        const text = Buffer.concat(reads).toString('latin1');
        if (text.startsWith('GET /readyz')) {
          socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        } else if (text.includes('\r\n\r\nhello=world')) {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        }
      });
      socket.on('error', () => undefined);
    });
    rawPort = (await listen(raw, 0, '127.0.0.1')).port;
    gw.gateway.upstreams.add({ service: 'dynamic', http: `http://127.0.0.1:${rawPort}` }, 'static');
    await waitFor('the raw upstream to be healthy', () =>
      gw.gateway.upstreams.list('dynamic').every((i) => i.state === 'healthy'),
    );
  });
  afterAll(async () => {
    await gw.close();
    await up.close();
    await new Promise((r) => raw.close(r));
  });

  it('sends a response head and a small body to the client in one write', async () => {
    const c = rawClient(gw.port);
    c.socket.write('GET /one.bin HTTP/1.1\r\nHost: t\r\n\r\n');
    await waitFor('the whole response', () => c.text().endsWith('x'.repeat(1024)));
    // One write on loopback arrives as one read: head and body were not sent apart.
    expect(c.chunks).toHaveLength(1);
    expect(c.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*content-length: 1024\r\n/i);
    c.socket.destroy();
  });

  it('sends a request head and a small body to the upstream in one write', async () => {
    const c = rawClient(gw.port);
    c.socket.write(
      'POST /api/form HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\nhello=world',
    );
    await waitFor('the answer', () => c.text().endsWith('ok'));
    const reads = upstreamReads.find((r) =>
      Buffer.concat(r).toString('latin1').startsWith('POST /api/form'),
    );
    expect(reads).toHaveLength(1);
    expect(reads![0]!.toString('latin1')).toMatch(/content-length: 11\r\n\r\nhello=world$/);
    c.socket.destroy();
  });
});

describe('draining (SIGTERM)', () => {
  it('closes idle keep-alive connections at once, says Connection: close to in-flight requests and lets them finish', async () => {
    const gw = await startGateway();
    const up = await startUpstream('static', (req, res) => {
      req.resume();
      const delay = req.url === '/slow' ? 400 : 0;
      setTimeout(() => res.end('finished'), delay);
    });
    try {
      await addUpstream(gw.gateway, 'static', up);
      const idle = rawClient(gw.port);
      idle.socket.write('GET /fast HTTP/1.1\r\nHost: t\r\n\r\n');
      await waitFor('the first answer', () => idle.text().endsWith('finished'));
      expect(idle.text()).toMatch(/connection: keep-alive/i);

      const busy = rawClient(gw.port);
      busy.socket.write('GET /slow HTTP/1.1\r\nHost: t\r\n\r\n');
      await waitFor('the slow request to reach the upstream', () =>
        up.seen.some((s) => s.url === '/slow'),
      );
      const closing = gw.gateway.close(10_000);
      await idle.closed;
      expect(busy.socket.destroyed).toBe(false);
      await busy.closed;
      expect(busy.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(busy.text()).toMatch(/\r\nconnection: close\r\n/i);
      expect(busy.text().endsWith('finished')).toBe(true);
      expect(await closing).toBe(true);
    } finally {
      await gw.close();
      await up.close();
    }
  });

  it('ends event streams and cuts TCP connections after STREAM_DRAIN_TIMEOUT, not the whole grace', async () => {
    const gw = await startGateway({ settings: { streamDrainTimeoutMs: 200 }, tcp: true });
    let ticker: NodeJS.Timeout | undefined;
    const up = await startUpstream('static', (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      ticker = setInterval(() => res.write('data: tick\n\n'), 50);
      res.on('close', () => clearInterval(ticker));
    });
    const echo = createNetServer((s) => s.pipe(s));
    const echoPort = (await listen(echo, 0, '127.0.0.1')).port;
    try {
      await addUpstream(gw.gateway, 'static', up);
      gw.gateway.upstreams.add({ service: 'tcp-echo', tcp: `127.0.0.1:${echoPort}` }, 'static');
      await waitFor('the echo instance to be healthy', () =>
        gw.gateway.upstreams.list('tcp-echo').every((i) => i.state === 'healthy'),
      );
      const tcpPort = (gw.gateway.tcp.server.address() as { port: number }).port;
      const tcp = rawClient(tcpPort);
      tcp.socket.write('ping');
      await waitFor('the echo', () => tcp.text() === 'ping');

      const sse = rawClient(gw.port);
      sse.socket.write('GET /events HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n');
      await waitFor('events to flow', () => sse.text().includes('data: tick'));

      // A grace far longer than the test: only the stream drain timeout can end these.
      const inTime = await gw.gateway.close(60_000);
      expect(inTime).toBe(false);
      await sse.closed;
      // Ended cleanly (the last chunk), so that an EventSource reconnects rather than errs.
      expect(sse.text().endsWith('0\r\n\r\n')).toBe(true);
      await tcp.closed;
      // The instance's side of the relay went with it.
      await waitFor('the echo instance to lose its connection', async () => {
        const n = await new Promise<number>((r) => echo.getConnections((_e, c) => r(c)));
        return n === 0;
      });
    } finally {
      clearInterval(ticker);
      await gw.close();
      await up.close();
      echo.close();
    }
  });
});

describe('the start of a gateway (STARTUP_WAIT)', () => {
  it('holds requests until their service has a healthy instance, and is not ready until discovery reported', async () => {
    const gw = await startGateway();
    const up = await startUpstream('static');
    try {
      gw.gateway.startup.begin();
      const ready = async () => (await fetch(`${gw.url}/-/readyz`)).status;
      expect(await ready()).toBe(503);
      const held = fetch(`${gw.url}/early`);
      let answered = false;
      void held.then(() => (answered = true));
      await new Promise((r) => setTimeout(r, 100));
      expect(answered).toBe(false);

      gw.gateway.upstreams.add({ service: 'static', http: up.url }, 'static');
      const res = await held;
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ upstream: 'static', url: '/early' });
      gw.gateway.startup.sourcesKnown();
      expect(await ready()).toBe(200);
    } finally {
      await gw.close();
      await up.close();
    }
  });

  it('answers 503 GATEWAY_NO_UPSTREAM once STARTUP_WAIT is over without an instance', async () => {
    const gw = await startGateway({ settings: { startupWaitMs: 300 } });
    try {
      gw.gateway.startup.begin();
      const res = await fetch(`${gw.url}/nothing`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ code: 'GATEWAY_NO_UPSTREAM' });
      expect((await fetch(`${gw.url}/-/readyz`)).status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});
