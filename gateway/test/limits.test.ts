import { connect } from 'node:net';
import { Agent, request } from 'undici';
import { waitFor } from '@netlab/shared/testing';
import {
  addUpstream,
  problemOf,
  rawExchange,
  startGateway,
  startUpstream,
  type RunningGateway,
  type Upstream,
} from './helpers';

jest.setTimeout(20_000);

const agent = new Agent({ keepAliveTimeout: 1000 });
afterAll(() => agent.close());

describe('limits', () => {
  let gw: RunningGateway;
  let up: Upstream;
  let streamCut = false;
  let slowNow = 0;
  let slowMax = 0;

  beforeAll(async () => {
    gw = await startGateway({
      settings: {
        maxHeaderSize: 2048,
        maxHeaders: 20,
        maxBodySize: 1000,
        headersTimeoutMs: 200,
        requestTimeoutMs: 400,
        clientIdleTimeoutMs: 1000,
        upstreamMaxConnections: 1,
      },
      routes: [
        { name: 'limited', prefix: '/limited', service: 'static', rateLimit: { rps: 1, burst: 2 } },
        { name: 'big', prefix: '/big', service: 'static', bodyLimit: '1MiB' },
        { name: 'rest', prefix: '/', service: 'static' },
      ],
    });
    up = await startUpstream('static', (req, res) => {
      if (req.url === '/stream') {
        res.on('close', () => (streamCut = !res.writableFinished));
        // Far more than any socket buffer, for a client that does not read.
        const chunk = Buffer.alloc(1024 * 1024);
        let sent = 0;
        const pump = (): void => {
          while (sent < 200 && res.write(chunk)) sent++;
          if (sent < 200) res.once('drain', pump);
          else res.end();
        };
        pump();
        return;
      }
      let bytes = 0;
      req.on('data', (d: Buffer) => (bytes += d.length));
      req.on('end', () => {
        const slow = req.url === '/slow';
        if (slow) slowMax = Math.max(slowMax, ++slowNow);
        setTimeout(
          () => {
            if (slow) slowNow--;
            res.end(JSON.stringify({ bytes }));
          },
          slow ? 150 : 0,
        );
      });
    });
    await addUpstream(gw.gateway, 'static', up);
  });
  afterAll(async () => {
    await gw.close();
    await up.close();
  });

  it('answers 431 GATEWAY_HEADERS_TOO_LARGE when the head exceeds MAX_HEADER_SIZE', async () => {
    const res = await rawExchange(
      gw.port,
      `GET / HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(3000)}\r\n\r\n`,
    );
    expect(res.status).toBe(431);
    expect(res.text).toContain('"code":"GATEWAY_HEADERS_TOO_LARGE"');
    expect(res.text).toContain('content-type: application/problem+json');
  });

  it('answers 431 when there are more than MAX_HEADERS fields', async () => {
    const before = up.seen.length;
    const fields = Array.from({ length: 25 }, (_, i) => `X-H${i}: ${i}`).join('\r\n');
    const res = await rawExchange(gw.port, `GET / HTTP/1.1\r\nHost: t\r\n${fields}\r\n\r\n`);
    expect(res.status).toBe(431);
    expect(res.text).toContain('MAX_HEADERS (20 fields)');
    expect(up.seen.length).toBe(before);
  });

  it('answers 413 GATEWAY_BODY_TOO_LARGE for a declared body over MAX_BODY_SIZE, unsent', async () => {
    const before = up.seen.length;
    const res = await request(`${gw.url}/upload`, {
      method: 'POST',
      body: Buffer.alloc(1001),
      dispatcher: agent,
    });
    expect(res.statusCode).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(await problemOf(res)).toMatchObject({ code: 'GATEWAY_BODY_TOO_LARGE', route: 'rest' });
    expect(up.seen.length).toBe(before);
  });

  it('answers 413 when a chunked body crosses the limit while streaming', async () => {
    const res = await rawExchange(
      gw.port,
      `POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n${'a'.repeat(1000)}\r\n3e8\r\n${'b'.repeat(1000)}\r\n0\r\n\r\n`,
      1500,
    );
    expect(res.status).toBe(413);
    expect(res.text).toContain('GATEWAY_BODY_TOO_LARGE');
  });

  it('lets a route raise the body limit', async () => {
    const res = await request(`${gw.url}/big/upload`, {
      method: 'POST',
      body: Buffer.alloc(500_000),
      dispatcher: agent,
    });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ bytes: 500_000 });
  });

  it('answers 408 GATEWAY_REQUEST_TIMEOUT to a client that sends its head too slowly', async () => {
    const res = await rawExchange(gw.port, 'GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ', 3000);
    expect(res.status).toBe(408);
    expect(res.text).toContain('GATEWAY_REQUEST_TIMEOUT');
    expect(res.closed).toBe(true);
  });

  it('answers 408 to a client whose body does not arrive within REQUEST_TIMEOUT', async () => {
    const res = await rawExchange(
      gw.port,
      'POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly part',
      3000,
    );
    expect(res.status).toBe(408);
    expect(res.closed).toBe(true);
  });

  it('answers 429 GATEWAY_RATE_LIMITED with Retry-After past the route rate limit', async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof request>> | undefined;
    for (let i = 0; i < 3; i++) {
      last = await request(`${gw.url}/limited/x`, { dispatcher: agent });
      statuses.push(last.statusCode);
      if (i < 2) await last.body.dump();
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(last!.headers['retry-after']).toBe('1');
    expect(await problemOf(last!)).toMatchObject({
      code: 'GATEWAY_RATE_LIMITED',
      route: 'limited',
    });
    // Other routes have no limit here.
    const other = await request(`${gw.url}/free`, { dispatcher: agent });
    expect(other.statusCode).toBe(200);
    await other.body.dump();
  });

  it('cuts a client that stops reading for CLIENT_IDLE_TIMEOUT, and the upstream response with it', async () => {
    const socket = connect(gw.port, '127.0.0.1');
    socket.write('GET /stream HTTP/1.1\r\nHost: t\r\n\r\n');
    // Never read: the gateway's writes stall, then the socket goes idle.
    socket.pause();
    try {
      await waitFor('the stalled stream to be cut upstream', () => streamCut, { timeoutMs: 8000 });
    } finally {
      socket.destroy();
    }
  });

  it('opens at most UPSTREAM_MAX_CONNECTIONS connections to an instance', async () => {
    slowNow = 0;
    slowMax = 0;
    const before = up.seen.length;
    await Promise.all(
      Array.from({ length: 4 }, () =>
        request(`${gw.url}/slow`, { dispatcher: agent }).then((r) => r.body.dump()),
      ),
    );
    expect(up.seen.length - before).toBe(4);
    // Four requests at once over one connection (one request at a time): they took turns.
    expect(slowMax).toBe(1);
  });
});

describe('keep-alive', () => {
  it('closes a keep-alive connection idle past KEEPALIVE_TIMEOUT', async () => {
    const gw = await startGateway({ settings: { keepAliveTimeoutMs: 300 } });
    try {
      const socket = connect(gw.port, '127.0.0.1');
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      let answers = 0;
      socket.on('data', (d: Buffer) => (answers += d.toString().split('HTTP/1.1 200').length - 1));
      socket.write('GET /-/healthz HTTP/1.1\r\nHost: t\r\n\r\n');
      await closed;
      expect(answers).toBe(1);
    } finally {
      await gw.close();
    }
  });
});

describe('connection limit', () => {
  it('drops connections past MAX_CONNECTIONS and counts them', async () => {
    const gw = await startGateway({ settings: { maxConnections: 2 } });
    const sockets = [connect(gw.port, '127.0.0.1'), connect(gw.port, '127.0.0.1')];
    try {
      await Promise.all(sockets.map((s) => new Promise((r) => s.once('connect', r))));
      await waitFor('both connections to be accepted', async () =>
        /gateway_http_connections\{[^}]*\} 2/.test(await gw.metricsText()),
      );
      const third = await rawExchange(gw.port, 'GET /-/healthz HTTP/1.1\r\nHost: t\r\n\r\n', 1000);
      expect(third.status).toBeUndefined();
      expect(third.closed).toBe(true);
      expect(await gw.metricsText()).toMatch(
        /gateway_rejected_total\{reason="too_many_connections"[^}]*\} 1/,
      );
      // Below the limit again, connections are served.
      sockets[0]!.destroy();
      await waitFor('a free slot', async () => {
        const r = await rawExchange(gw.port, 'GET /-/healthz HTTP/1.1\r\nHost: t\r\n\r\n', 300);
        return r.status === 200;
      });
    } finally {
      sockets.forEach((s) => s.destroy());
      await gw.close();
    }
  });
});
