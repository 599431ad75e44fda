import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { listen, waitFor } from '@netlab/shared/testing';
import {
  UpstreamPool,
  type RequestControl,
  type UpstreamPoolOptions,
  type UpstreamRequest,
} from '../src/upstream-pool';

jest.setTimeout(15_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Outcome {
  status: number;
  headers: string[];
  body: string;
}

/** One request through the pool, collected. */
function run(pool: UpstreamPool, req: Partial<UpstreamRequest> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: string[] = [];
    const chunks: Buffer[] = [];
    pool.dispatch(
      {
        method: 'GET',
        path: '/',
        headerLines: 'host: test\r\n',
        body: null,
        contentLength: -1,
        headersTimeoutMs: 2000,
        bodyTimeoutMs: 2000,
        ...req,
      },
      {
        onStart: () => undefined,
        onHead: (s, h) => {
          status = s;
          headers = h;
        },
        // Kept as given: pieces are the handler's, never views of a buffer the next read reuses.
        onData: (c) => chunks.push(c) > 0,
        onEnd: (last) => {
          if (last !== undefined) chunks.push(last);
          resolve({ status, headers, body: Buffer.concat(chunks).toString('latin1') });
        },
        onError: reject,
      },
    );
  });
}

interface Scripted {
  server: Server;
  pool: UpstreamPool;
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

/**
 * A raw upstream: for each request head it receives, `respond` writes whatever bytes the test
 * wants, in as many pieces (with pauses between them) as it likes.
 */
async function scripted(
  respond: (socket: Socket, request: string, n: number) => unknown,
  opts: Partial<UpstreamPoolOptions> = {},
): Promise<Scripted> {
  const sockets = new Set<Socket>();
  const s = { connections: 0, requests: [] as string[] } as Scripted;
  const server = createServer((socket) => {
    s.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        const request = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        s.requests.push(request);
        void respond(socket, request, s.requests.length);
      }
    });
  });
  const { port } = await listen(server, 0, '127.0.0.1');
  s.server = server;
  s.pool = new UpstreamPool({
    host: '127.0.0.1',
    port,
    maxConnections: 4,
    keepAliveTimeoutMs: 2000,
    connectTimeoutMs: 1000,
    maxHeaderSize: 1024,
    ...opts,
  });
  s.close = () =>
    new Promise<void>((resolve) => {
      s.pool.destroy();
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return s;
}

/** Writes `text` in pieces of `size` bytes, pausing between them so they arrive apart. */
async function dribble(socket: Socket, text: string, size: number): Promise<void> {
  for (let i = 0; i < text.length; i += size) {
    socket.write(text.slice(i, i + size), 'latin1');
    await sleep(2);
  }
}

describe('the upstream pool', () => {
  let s: Scripted | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('reads a Content-Length response however it is split, and reuses the connection', async () => {
    s = await scripted((socket, _req, n) =>
      dribble(socket, `HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-N: ${n}\r\n\r\nhello world`, 7),
    );
    for (const n of [1, 2, 3]) {
      const out = await run(s.pool);
      expect(out).toEqual({
        status: 200,
        headers: ['content-length', '11', 'x-n', String(n)],
        body: 'hello world',
      });
    }
    expect(s.connections).toBe(1);
  });

  it('reads a chunked response with extensions and trailers, byte by byte', async () => {
    const response =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: yes\r\n\r\n';
    s = await scripted((socket) => dribble(socket, response, 1));
    const out = await run(s.pool);
    expect(out.body).toBe('hello world');
    // And the connection is clean for the next one.
    expect((await run(s.pool)).body).toBe('hello world');
    expect(s.connections).toBe(1);
  });

  it('accepts a status line without a reason, a reason with obs-text, and equal Content-Lengths', async () => {
    s = await scripted((socket, req) => {
      if (req.includes('/bare')) socket.write('HTTP/1.1 201\r\nContent-Length: 2\r\n\r\nok');
      else if (req.includes('/obs')) {
        socket.write('HTTP/1.1 200 \xe9t\xe9\tok\r\nContent-Length: 2\r\n\r\nok', 'latin1');
      } else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok');
    });
    expect(await run(s.pool, { path: '/bare' })).toMatchObject({ status: 201, body: 'ok' });
    expect(await run(s.pool, { path: '/obs' })).toMatchObject({ status: 200, body: 'ok' });
    expect(await run(s.pool, { path: '/list' })).toMatchObject({ status: 200, body: 'ok' });
    expect(s.connections).toBe(1);
  });

  it('reads a body delimited by the close of the connection, and does not reuse it', async () => {
    s = await scripted((socket) => socket.end('HTTP/1.1 200 OK\r\nX: y\r\n\r\nuntil the end'));
    expect((await run(s.pool)).body).toBe('until the end');
    expect((await run(s.pool)).body).toBe('until the end');
    expect(s.connections).toBe(2);
  });

  it('expects no body after HEAD, 204 and 304, and skips 1xx heads', async () => {
    s = await scripted((socket, req) => {
      if (req.startsWith('HEAD')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n');
      else if (req.includes('/204')) socket.write('HTTP/1.1 204 No Content\r\n\r\n');
      else if (req.includes('/304'))
        socket.write('HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n');
      else {
        socket.write(
          'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
        );
      }
    });
    expect(await run(s.pool, { method: 'HEAD' })).toMatchObject({ status: 200, body: '' });
    expect(await run(s.pool, { path: '/204' })).toMatchObject({ status: 204, body: '' });
    expect(await run(s.pool, { path: '/304' })).toMatchObject({ status: 304, body: '' });
    expect(await run(s.pool, { path: '/hints' })).toMatchObject({ status: 200, body: 'ok' });
    expect(s.connections).toBe(1);
  });

  it.each([
    ['an invalid status line', 'HTTP/1.1 2000 OK\r\n\r\n'],
    ['a non-HTTP answer', 'NONSENSE 200 maybe\r\n\r\n'],
    ['HTTP/2 in a status line', 'HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n'],
    ['a status code without a space after it', 'HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n'],
    [
      'a control character in the reason phrase',
      'HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n',
    ],
    [
      'Content-Length with Transfer-Encoding',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    [
      'two different Content-Lengths',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
    ],
    ['a signed Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc'],
    [
      'an invalid chunk size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n',
    ],
    [
      'chunk data longer than its size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n',
    ],
    [
      'a bare LF in a chunk line',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n',
    ],
    ['a bare LF in the head', 'HTTP/1.1 200 OK\r\nX: a\nContent-Length: 0\r\n\r\n'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n'],
    ['an invalid header name', 'HTTP/1.1 200 OK\r\nX Y: a\r\nContent-Length: 0\r\n\r\n'],
    ['a NUL in a value', 'HTTP/1.1 200 OK\r\nX: a\0b\r\nContent-Length: 0\r\n\r\n'],
    ['a head over maxHeaderSize', `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(2000)}\r\n\r\n`],
    ['101 to a plain request', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'],
  ])('refuses %s with UPSTREAM_BAD_RESPONSE', async (_what, response) => {
    s = await scripted((socket) => socket.write(response, 'latin1'));
    await expect(run(s.pool)).rejects.toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE' });
  });

  it('does not reuse a connection that sent bytes after the response or said close', async () => {
    s = await scripted((socket, req) => {
      if (req.includes('/extra'))
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n');
      else if (req.includes('/close'))
        socket.write('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok');
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext');
    });
    expect((await run(s.pool, { path: '/extra' })).body).toBe('ok');
    expect((await run(s.pool)).body).toBe('next');
    expect(s.connections).toBe(2);
    expect((await run(s.pool, { path: '/close' })).body).toBe('ok');
    expect((await run(s.pool)).body).toBe('next');
    expect(s.connections).toBe(3);
  });

  it('opens a new connection when the upstream closed an idle one', async () => {
    let first = true;
    s = await scripted((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      if (first) {
        first = false;
        setTimeout(() => socket.end(), 20);
      }
    });
    await run(s.pool);
    await sleep(100);
    expect((await run(s.pool)).body).toBe('ok');
    expect(s.connections).toBe(2);
  });

  it("closes a connection idle past keepAliveTimeoutMs, or past the upstream's own hint", async () => {
    const closed: number[] = [];
    s = await scripted(
      (socket, req) => {
        socket.once('close', () => closed.push(Date.now()));
        socket.write(
          req.includes('/hinted')
            ? 'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=0\r\nContent-Length: 2\r\n\r\nok'
            : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
        );
      },
      { keepAliveTimeoutMs: 100 },
    );
    await run(s.pool);
    await waitFor('the idle connection to be closed', () => closed.length === 1);
    // `timeout=0`: the upstream keeps nothing alive, so neither does the pool.
    await run(s.pool, { path: '/hinted' });
    await waitFor('the hinted connection to be closed', () => closed.length === 2);
    expect(s.connections).toBe(2);
  });

  it('queues requests beyond maxConnections and serves them all', async () => {
    s = await scripted(
      (socket) => {
        setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), 20);
      },
      { maxConnections: 1 },
    );
    const results = await Promise.all([1, 2, 3, 4].map(() => run(s!.pool)));
    expect(results.map((r) => r.body)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(s.connections).toBe(1);
  });

  it('fails with UPSTREAM_HEADERS_TIMEOUT and UPSTREAM_BODY_TIMEOUT on silence', async () => {
    s = await scripted((socket, req) => {
      if (req.includes('/body')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf');
    });
    await expect(run(s.pool, { headersTimeoutMs: 100 })).rejects.toMatchObject({
      code: 'UPSTREAM_HEADERS_TIMEOUT',
    });
    await expect(run(s.pool, { path: '/body', bodyTimeoutMs: 100 })).rejects.toMatchObject({
      code: 'UPSTREAM_BODY_TIMEOUT',
    });
  });

  it('fails with UPSTREAM_CLOSED when the upstream dies mid-body', async () => {
    s = await scripted((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf'));
    await expect(run(s.pool)).rejects.toMatchObject({ code: 'UPSTREAM_CLOSED' });
  });

  it('passes on a refused connection as ECONNREFUSED', async () => {
    s = await scripted(() => undefined);
    const port = (s.server.address() as import('node:net').AddressInfo).port;
    await new Promise<void>((r) => s!.server.close(() => r()));
    const pool = new UpstreamPool({ ...s.pool.options, port });
    await expect(run(pool)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('fails queued requests on close() and in-flight ones on destroy()', async () => {
    s = await scripted(() => undefined, { maxConnections: 1 });
    const inFlight = run(s.pool);
    const queued = run(s.pool);
    await sleep(50);
    s.pool.close();
    await expect(queued).rejects.toMatchObject({ code: 'UPSTREAM_POOL_CLOSED' });
    s.pool.destroy();
    await expect(inFlight).rejects.toMatchObject({ code: 'UPSTREAM_POOL_CLOSED' });
    await expect(run(s.pool)).rejects.toMatchObject({ code: 'UPSTREAM_POOL_CLOSED' });
  });

  it('honours pause and resume: a paused response is not read further', async () => {
    const big = 'x'.repeat(8 * 1024 * 1024);
    s = await scripted((socket) =>
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n${big}`),
    );
    let received = 0;
    let control: RequestControl | undefined;
    const done = new Promise<void>((resolve, reject) => {
      s!.pool.dispatch(
        {
          method: 'GET',
          path: '/',
          headerLines: '',
          body: null,
          contentLength: -1,
          headersTimeoutMs: 2000,
          bodyTimeoutMs: 5000,
        },
        {
          onStart: (c) => (control = c),
          onHead: () => undefined,
          onData: (c) => {
            received += c.length;
            return false;
          },
          onEnd: (last) => {
            received += last?.length ?? 0;
            resolve();
          },
          onError: reject,
        },
      );
    });
    await sleep(200);
    const whilePaused = received;
    await sleep(200);
    expect(received).toBe(whilePaused);
    expect(received).toBeLessThan(big.length);
    // Resume every time it pauses, until the end.
    const pump = setInterval(() => control?.resume(), 1);
    await done;
    clearInterval(pump);
    expect(received).toBe(big.length);
  });
});

describe('request bodies', () => {
  it('sends a declared body as is and an undeclared one chunked, which a strict server reads', async () => {
    const bodies: string[] = [];
    const server = createHttpServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        bodies.push(`${req.headers['transfer-encoding'] ?? req.headers['content-length']}:${body}`);
        res.end('ok');
      });
    });
    const { port } = await listen(server, 0, '127.0.0.1');
    const pool = new UpstreamPool({
      host: '127.0.0.1',
      port,
      maxConnections: 1,
      keepAliveTimeoutMs: 1000,
      connectTimeoutMs: 1000,
      maxHeaderSize: 16384,
    });
    try {
      await run(pool, {
        method: 'POST',
        body: Readable.from([Buffer.from('abc'), Buffer.from('def')]),
        contentLength: 6,
      });
      await run(pool, {
        method: 'POST',
        body: Readable.from([Buffer.from('chunk one,'), Buffer.from(' two')]),
        contentLength: -1,
      });
      await run(pool, { method: 'POST' });
      expect(bodies).toEqual(['6:abcdef', 'chunked:chunk one, two', '0:']);
    } finally {
      pool.destroy();
      server.closeAllConnections();
      server.close();
    }
  });

  it('stops sending the body when the answer comes first, and closes that connection', async () => {
    const s = await scripted((socket) =>
      socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig'),
    );
    try {
      const body = new Readable({ read() {} });
      body.push(Buffer.alloc(1000));
      const out = await run(s.pool, { method: 'POST', body, contentLength: 1_000_000 });
      expect(out).toMatchObject({ status: 413, body: 'big' });
      expect(body.destroyed).toBe(true);
      await run(s.pool);
      expect(s.connections).toBe(2);
    } finally {
      await s.close();
    }
  });
});
