import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import pino, { type Logger } from 'pino';
import {
  createHttpLogger,
  createLogger,
  installFastPath,
  REQUEST_ID_HEADER,
  requestIdOf,
} from '@netlab/shared';
import { captureLogger, listen, waitFor } from '@netlab/shared/testing';

describe('createLogger', () => {
  it('binds service and instance and redacts credentials in headers', () => {
    const { logger, lines } = captureLogger('static');
    logger
      .child({ component: 'http' })
      .info(
        { req: { headers: { authorization: 'Bearer s3cret', cookie: 'sid=abc', accept: '*/*' } } },
        'request',
      );
    const [line] = lines();
    expect(line).toMatchObject({ service: 'static', instance: 'static-test', component: 'http' });
    const text = JSON.stringify(line);
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('sid=abc');
    expect(text).toContain('[redacted]');
    expect(text).toContain('*/*');
  });
});

describe('requestIdOf', () => {
  it('keeps a sane caller id and replaces anything that could forge log lines', () => {
    expect(requestIdOf('abc-123')).toBe('abc-123');
    expect(requestIdOf(['first', 'second'])).toBe('first');
    expect(requestIdOf('bad\nid INFO forged')).toMatch(/^[0-9a-f]{12}-\d+$/);
    expect(requestIdOf('x'.repeat(129))).toMatch(/^[0-9a-f]{12}-\d+$/);
  });

  it('makes new ids of one per-process prefix and a counter', () => {
    const [a, b] = [requestIdOf(undefined), requestIdOf(undefined)];
    const [, prefix, n] = /^([0-9a-f]{12})-(\d+)$/.exec(a)!;
    expect(b).toBe(`${prefix}-${Number(n) + 1}`);
  });
});

describe('createHttpLogger', () => {
  it('echoes the x-request-id it was given, generates one otherwise, and logs it', async () => {
    const { logger, lines } = captureLogger('dynamic');
    const httpLogger = createHttpLogger(logger);
    const server = createServer((req, res) => {
      httpLogger(req, res);
      res.end('ok');
    });
    const { port } = await listen(server, 0, '127.0.0.1');
    try {
      const given = await fetch(`http://127.0.0.1:${port}/x`, {
        headers: { [REQUEST_ID_HEADER]: 'trace-1' },
      });
      expect(given.headers.get(REQUEST_ID_HEADER)).toBe('trace-1');
      const generated = await fetch(`http://127.0.0.1:${port}/y`);
      expect(generated.headers.get(REQUEST_ID_HEADER)).toMatch(/^[0-9a-f]{12}-\d+$/);
      const logged = lines().filter((l) => l.component === 'http');
      expect(logged.map((l) => (l.req as { id: string }).id)).toContain('trace-1');
    } finally {
      server.close();
    }
  });

  /** A server whose handler runs the request logger, then answers `status` from the path. */
  async function serve(
    logger: Logger,
    handle?: (req: IncomingMessage, res: ServerResponse) => void,
  ): Promise<{ url: string; close: () => void; listeners: number[] }> {
    const httpLogger = createHttpLogger(logger);
    const listeners: number[] = [];
    const server = createServer((req, res) => {
      httpLogger(req, res);
      listeners.push(res.listenerCount('finish'));
      if (handle !== undefined) return handle(req, res);
      res.statusCode = Number((req.url ?? '/200').split(/[/?]/)[1]) || 200;
      res.end('ok');
    });
    const { port } = await listen(server, 0, '127.0.0.1');
    return { url: `http://127.0.0.1:${port}`, close: () => server.close(), listeners };
  }

  it("writes pino-http's line: req, res and responseTime, info for 2xx, warn for 4xx, error for 5xx", async () => {
    const { logger, lines } = captureLogger('dynamic');
    const s = await serve(logger);
    try {
      for (const path of ['/200?a=1', '/404', '/503'])
        await (await fetch(`${s.url}${path}`)).text();
      const logged = lines().filter((l) => l.component === 'http');
      expect(
        logged.map((l) => [l.level, l.msg, (l.res as { statusCode: number }).statusCode]),
      ).toEqual([
        [30, 'request completed', 200],
        [40, 'request completed', 404],
        [50, 'request errored', 503],
      ]);
      expect(logged[0]).toMatchObject({
        req: { method: 'GET', url: '/200?a=1', remoteAddress: expect.any(String) as unknown },
        responseTime: expect.any(Number) as unknown,
      });
      expect((logged[2]!.err as { message: string }).message).toBe('failed with status code 503');
    } finally {
      s.close();
    }
  });

  it('redacts credentials in the logged request and response headers', async () => {
    const { logger, lines } = captureLogger('dynamic');
    const s = await serve(logger, (_req, res) => {
      res.setHeader('set-cookie', 'sid=response-secret');
      res.end();
    });
    try {
      await (
        await fetch(s.url, { headers: { authorization: 'Bearer s3cret', cookie: 'sid=abc' } })
      ).text();
      const text = JSON.stringify(lines().filter((l) => l.component === 'http'));
      expect(text).toContain('[redacted]');
      for (const secret of ['s3cret', 'sid=abc', 'response-secret'])
        expect(text).not.toContain(secret);
    } finally {
      s.close();
    }
  });

  it('logs no health probe or scrape, and only failures at level warn', async () => {
    const { logger, lines } = captureLogger('dynamic');
    logger.level = 'warn';
    const s = await serve(logger);
    try {
      for (const path of ['/healthz', '/-/readyz', '/metrics', '/200', '/500/healthz', '/404']) {
        await (await fetch(`${s.url}${path}`)).text();
      }
      const logged = lines().filter((l) => l.component === 'http');
      expect(logged.map((l) => (l.req as { url: string }).url)).toEqual(['/500/healthz', '/404']);
    } finally {
      s.close();
    }
  });

  it('adds no listener at all when nothing could be written (level fatal), yet still echoes the id', async () => {
    const { logger, lines } = captureLogger('dynamic');
    logger.level = 'fatal';
    const s = await serve(logger);
    try {
      const res = await fetch(`${s.url}/500`, { headers: { [REQUEST_ID_HEADER]: 'quiet-1' } });
      await res.text();
      expect(res.headers.get(REQUEST_ID_HEADER)).toBe('quiet-1');
      logger.level = 'info';
      await (await fetch(`${s.url}/200`)).text();
      // node:http has a 'finish' listener of its own; the logger adds one only in the second.
      expect(s.listeners[1]! - s.listeners[0]!).toBe(1);
      expect(lines().filter((l) => l.component === 'http')).toHaveLength(1);
    } finally {
      s.close();
    }
  });

  it('gives req.log and res.log, bound to the request, as pino-http did', async () => {
    const { logger, lines } = captureLogger('dynamic');
    const s = await serve(logger, (req, res) => {
      (req as IncomingMessage & { log: Logger }).log.info('from the handler');
      expect((res as ServerResponse & { log: Logger }).log).toBe(
        (req as IncomingMessage & { log: Logger }).log,
      );
      res.end();
    });
    try {
      await (await fetch(`${s.url}/x`, { headers: { [REQUEST_ID_HEADER]: 'trace-2' } })).text();
      const line = lines().find((l) => l.msg === 'from the handler');
      expect(line).toMatchObject({ component: 'http', req: { id: 'trace-2', url: '/x' } });
    } finally {
      s.close();
    }
  });
});

describe('createHttpLogger().fastLine', () => {
  // The same requests to node:http (with the middleware) and to the fast path (with fastLine),
  // told apart only by x-via: the two request lines must be the same bytes but for times, ports,
  // x-via and (5xx) where the stack was made.
  it("writes the bytes node:http's line has, credentials redacted, at every level", async () => {
    const raw: string[] = [];
    const logger = createLogger({
      service: 'fetcher',
      instance: 'fetcher-test',
      level: 'info',
      destination: { write: (line: string) => void raw.push(line) },
    });
    const httpLogger = createHttpLogger(logger);
    const reply = (): string[] => [
      'content-type',
      'text/plain',
      'set-cookie',
      'sid=response-secret',
      'content-length',
      '2',
    ];
    const server = createServer((req, res) => {
      httpLogger(req, res);
      res.writeHead(Number(req.headers['x-status']), reply());
      res.end('ok');
    });
    const fast = installFastPath(
      server,
      { maxHeaderSize: 16 * 1024, maxHeaders: 100, keepAliveTimeoutMs: 5000 },
      (req, res) => {
        if (req.header('x-via') !== 'fast') return false;
        const started = Date.now();
        const id = requestIdOf(req.header(REQUEST_ID_HEADER));
        res.writeHead(Number(req.header('x-status')), [...reply(), REQUEST_ID_HEADER, id]);
        res.end(Buffer.from('ok'));
        httpLogger.fastLine(req, res, id, started, true);
        return true;
      },
    );
    const { port } = await listen(server, 0, '127.0.0.1');
    try {
      const ask = async (via: string, status: number) => {
        const socket = connect(port, '127.0.0.1');
        await new Promise<void>((resolve) => socket.once('connect', resolve));
        const closed = new Promise((resolve) => socket.once('close', resolve));
        socket.resume();
        socket.write(
          Buffer.from(
            `GET /x?q=1 HTTP/1.1\r\nHost: h\r\nX-Via: ${via}\r\nX-Status: ${status}\r\n` +
              `Authorization: Bearer s3cret\r\nCookie: sid=abc\r\nProxy-Authorization: Basic cHc=\r\n` +
              `X-Request-Id: trace-${status}\r\nX-Note: a"b\\c \xe9\r\nAccept: a\r\nAccept: b\r\n` +
              `Connection: close\r\n\r\n`,
            'latin1',
          ),
        );
        await closed;
        await waitFor('the request line', () => raw.length > 0);
        return raw
          .splice(0)
          .join('')
          .replace(/"(time|responseTime|remotePort)":("[^"]*"|\d+)/g, '"$1":0')
          .replace(/"x-via":"\w+"/, '"x-via":""')
          .replace(/"stack":"(?:[^"\\]|\\.)*"/, '"stack":""');
      };
      for (const status of [200, 404, 503]) {
        const [viaFast, viaNode] = [await ask('fast', status), await ask('node', status)];
        expect(viaFast).toBe(viaNode);
        for (const secret of ['s3cret', 'sid=abc', 'cHc=', 'response-secret'])
          expect(viaFast).not.toContain(secret);
        expect(JSON.parse(viaFast)).toMatchObject({
          level: status === 200 ? 30 : status === 404 ? 40 : 50,
          req: { id: `trace-${status}`, headers: { 'x-note': 'a"b\\c é', accept: 'a, b' } },
          res: { statusCode: status, headers: { 'set-cookie': '[redacted]' } },
        });
      }
      expect([fast.served(), fast.handedOff()]).toEqual([3, 3]);
    } finally {
      await fast.close(0);
      server.close();
    }
  });
});

describe("createHttpLogger's lines, built by hand", () => {
  // Each request is logged twice: by the middleware and, from the same objects at the same
  // moment, by pino itself with the serializers and redaction the lines had before.
  it('are the bytes pino writes, for node:http and Express-like requests, at each level', async () => {
    const raw: string[] = [];
    const reference: string[] = [];
    const options = { service: 'static', instance: 'static-test', level: 'info' as const };
    const logger = createLogger({
      ...options,
      destination: { write: (l: string) => void raw.push(l) },
    });
    const pinoItself = createLogger({
      ...options,
      destination: { write: (l: string) => void reference.push(l) },
    }).child(
      { component: 'http' },
      { serializers: { req: pino.stdSerializers.req, res: pino.stdSerializers.res } },
    );
    const httpLogger = createHttpLogger(logger);
    const server = createServer((req, res) => {
      if (req.headers['x-express'] !== undefined) {
        // What Express puts on its requests, which pino's serializer reads.
        Object.assign(req, {
          originalUrl: `/mounted${req.url}`,
          query: { q: '1' },
          params: { id: '7' },
        });
      }
      httpLogger(req, res);
      res.once('finish', () => {
        const level = res.statusCode >= 400 ? 'warn' : 'info';
        pinoItself[level]({ req, res, responseTime: 0 }, 'request completed');
      });
      res.setHeader('set-cookie', ['sid=response-secret', 'b=2']);
      res.statusCode = Number(req.headers['x-status']);
      res.end('ok');
    });
    const { port } = await listen(server, 0, '127.0.0.1');
    try {
      for (const [status, express] of [
        [200, false],
        [404, false],
        [200, true],
        [302, true],
      ] as const) {
        const res = await fetch(`http://127.0.0.1:${port}/x?q=1`, {
          headers: {
            'x-status': String(status),
            ...(express ? { 'x-express': '1' } : {}),
            authorization: 'Bearer s3cret',
            cookie: 'sid=abc',
            'x-note': 'a"b\\c é',
          },
          redirect: 'manual',
        });
        await res.text();
        await waitFor('both lines', () => raw.length > 0 && reference.length > 0);
        const mask = (lines: string[]) =>
          lines
            .splice(0)
            .join('')
            .replace(/"(time|responseTime)":("[^"]*"|\d+)/g, '"$1":0');
        const [byHand, byPino] = [mask(raw), mask(reference)];
        expect(byHand).toBe(byPino);
        for (const secret of ['s3cret', 'sid=abc', 'response-secret'])
          expect(byHand).not.toContain(secret);
        expect(JSON.parse(byHand)).toMatchObject({
          level: status >= 400 ? 40 : 30,
          req: express
            ? { url: '/mounted/x?q=1', query: { q: '1' }, params: { id: '7' } }
            : { url: '/x?q=1' },
        });
      }
    } finally {
      server.close();
    }
  });
});
