import { connect } from 'node:net';
import { waitFor } from '@netlab/shared/testing';
import {
  addUpstream,
  startGateway,
  startUpstream,
  type RunningGateway,
  type Upstream,
} from './helpers';

jest.setTimeout(20_000);

/** One response of a raw byte stream, with the headers that vary between runs normalised. */
interface Parsed {
  status: number;
  /** `name: value`, names lowercased, sorted; `date` left out, generated request ids masked. */
  headers: string[];
  body: string;
}

/** A request id the gateway made (requestIdOf): a per-process prefix and a counter. */
const GENERATED_ID = /^[0-9a-f]{12}-\d+$/;
const GENERATED_IDS = /[0-9a-f]{12}-\d+/g;

/**
 * Splits what a connection received into responses, framing each as a client must (RFC 9112
 * §6.3): none for HEAD, 204 and 304, Content-Length, chunked, or up to the close. `complete` is
 * false while the last expected response is still partial.
 */
function parseResponses(
  text: string,
  methods: readonly string[],
  closed: boolean,
): { responses: Parsed[]; complete: boolean } {
  const responses: Parsed[] = [];
  let pos = 0;
  for (const method of methods) {
    const end = text.indexOf('\r\n\r\n', pos);
    if (end < 0) return { responses, complete: false };
    const lines = text.slice(pos, end).split('\r\n');
    const status = Number(lines[0]!.slice(9, 12));
    const fields = lines.slice(1).map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
    });
    const value = (name: string) => fields.find(([n]) => n === name)?.[1];
    let p = end + 4;
    let body = '';
    if (method === 'HEAD' || status === 204 || status === 304) {
      // no body
    } else if (value('content-length') !== undefined) {
      const n = Number(value('content-length'));
      if (text.length < p + n) return { responses, complete: false };
      body = text.slice(p, p + n);
      p += n;
    } else if (value('transfer-encoding') === 'chunked') {
      for (;;) {
        const eol = text.indexOf('\r\n', p);
        if (eol < 0) return { responses, complete: false };
        const size = parseInt(text.slice(p, eol), 16);
        if (text.length < eol + 2 + size + 2) return { responses, complete: false };
        body += text.slice(eol + 2, eol + 2 + size);
        p = eol + 2 + size + 2;
        if (size === 0) break;
      }
    } else {
      if (!closed) return { responses, complete: false };
      body = text.slice(p);
      p = text.length;
    }
    pos = p;
    const headers = fields
      .filter(([n]) => n !== 'date')
      .map(([n, v]) => `${n}: ${n === 'x-request-id' && GENERATED_ID.test(v) ? '<generated>' : v}`)
      .sort();
    responses.push({ status, headers, body: body.replace(GENERATED_IDS, '<generated>') });
  }
  return { responses, complete: true };
}

/** Sends `payload` on a new connection and collects one response per method (or to the close). */
function exchange(
  port: number,
  payload: string,
  methods: readonly string[],
): Promise<{ responses: Parsed[]; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const check = (force: boolean): void => {
      const text = Buffer.concat(chunks).toString('latin1');
      const { responses, complete } = parseResponses(text, methods, closed);
      if (!complete && !force && !closed) return;
      clearTimeout(timer);
      socket.destroy();
      resolve({ responses, closed });
    };
    const timer = setTimeout(() => check(true), 3000);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      check(false);
    });
    socket.on('close', () => {
      closed = true;
      check(true);
    });
    socket.on('error', () => undefined);
    socket.write(payload);
  });
}

/** Every kind of answer the upstream gives, for both paths to relay. */
function upstreamAnswers(): Promise<Upstream> {
  return startUpstream('static', (req, res) => {
    const body: Buffer[] = [];
    req.on('data', (d: Buffer) => body.push(d));
    req.on('end', () => {
      switch (req.url) {
        case '/ok':
          res.setHeader('content-type', 'text/plain');
          res.end('hello');
          return;
        case '/chunked':
          res.write('ab');
          setTimeout(() => res.end('cd'), 10);
          return;
        case '/nocontent':
          res.statusCode = 204;
          res.end();
          return;
        case '/notmodified':
          res.writeHead(304, { etag: '"v1"' });
          res.end();
          return;
        case '/big':
          res.end('b'.repeat(100 * 1024));
          return;
        case '/slow':
          setTimeout(() => res.end('slow'), 150);
          return;
        case '/hang':
          // Answers only if nobody gave up on it first.
          setTimeout(() => res.end('late'), 5000).unref();
          return;
        case '/echo':
          res.end(Buffer.concat(body));
          return;
        default:
          res.statusCode = 404;
          res.end('no such thing');
      }
    });
  });
}

const H = 'Host: t\r\n';

interface Case {
  name: string;
  payload: string;
  methods: string[];
  statuses: number[];
}

/** One GET, and the status it must get. */
const get = (name: string, payload: string, status: number): Case => ({
  name,
  payload,
  methods: ['GET'],
  statuses: [status],
});

/** Raw requests and the methods of the responses they expect, with the status each must get. */
const CORPUS: Case[] = [
  get('GET', `GET /ok HTTP/1.1\r\n${H}\r\n`, 200),
  { name: 'HEAD', payload: `HEAD /ok HTTP/1.1\r\n${H}\r\n`, methods: ['HEAD'], statuses: [200] },
  get('a chunked upstream answer to HTTP/1.1', `GET /chunked HTTP/1.1\r\n${H}\r\n`, 200),
  get(
    'a chunked upstream answer to HTTP/1.0 (close-delimited)',
    `GET /chunked HTTP/1.0\r\n${H}\r\n`,
    200,
  ),
  get('HTTP/1.0 with keep-alive', `GET /ok HTTP/1.0\r\n${H}Connection: keep-alive\r\n\r\n`, 200),
  get('Connection: close', `GET /ok HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, 200),
  get('204', `GET /nocontent HTTP/1.1\r\n${H}\r\n`, 204),
  get('304', `GET /notmodified HTTP/1.1\r\n${H}\r\n`, 304),
  get('a 100 KiB body', `GET /big HTTP/1.1\r\n${H}\r\n`, 200),
  get('an upstream 404', `GET /nope HTTP/1.1\r\n${H}\r\n`, 404),
  get('a propagated x-request-id', `GET /ok HTTP/1.1\r\n${H}X-Request-Id: abc-123\r\n\r\n`, 200),
  get('no instance (503)', `GET /api/stocks HTTP/1.1\r\n${H}\r\n`, 503),
  get('an encoded slash (400)', `GET /a%2fb HTTP/1.1\r\n${H}\r\n`, 400),
  {
    name: 'pipelined GETs',
    payload: `GET /slow HTTP/1.1\r\n${H}\r\nGET /chunked HTTP/1.1\r\n${H}\r\nHEAD /ok HTTP/1.1\r\n${H}\r\n`,
    methods: ['GET', 'GET', 'HEAD'],
    statuses: [200, 200, 200],
  },
  {
    name: 'a POST with a body between pipelined GETs',
    payload: `GET /ok HTTP/1.1\r\n${H}\r\nPOST /echo HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhelloGET /big HTTP/1.1\r\n${H}\r\n`,
    methods: ['GET', 'POST', 'GET'],
    statuses: [200, 200, 200],
  },
  get('an admin endpoint', `GET /-/healthz HTTP/1.1\r\n${H}\r\n`, 200),
  get('absolute-form', `GET http://t/ok HTTP/1.1\r\n${H}\r\n`, 200),
  get(
    'Content-Length with Transfer-Encoding (400)',
    `GET /ok HTTP/1.1\r\n${H}Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n`,
    400,
  ),
  get('two Host headers (400)', `GET /ok HTTP/1.1\r\n${H}${H}\r\n`, 400),
  get('no Host (400)', 'GET /ok HTTP/1.1\r\n\r\n', 400),
];

describe('the fast path answers exactly as node:http does', () => {
  let fast: RunningGateway;
  let plain: RunningGateway;
  let up: Upstream;

  beforeAll(async () => {
    up = await upstreamAnswers();
    fast = await startGateway();
    plain = await startGateway({ settings: { fastPath: false } });
    await addUpstream(fast.gateway, 'static', up);
    await addUpstream(plain.gateway, 'static', up);
  });
  afterAll(async () => {
    await Promise.all([fast.close(), plain.close()]);
    await up.close();
  });

  it('is on by default and off with FAST_PATH=false', () => {
    expect(fast.gateway.fastPath).toBeDefined();
    expect(plain.gateway.fastPath).toBeUndefined();
  });

  it.each(CORPUS)('$name', async ({ payload, methods, statuses }) => {
    const [a, b] = await Promise.all([
      exchange(fast.port, payload, methods),
      exchange(plain.port, payload, methods),
    ]);
    expect(a.responses.map((r) => r.status)).toEqual(statuses);
    expect(a.responses).toEqual(b.responses);
    expect(a.closed).toBe(b.closed);
  });

  it('served the plain requests itself and handed the rest to node:http', () => {
    const path = fast.gateway.fastPath!;
    // The first 13 cases (rejections included), the three pipelined GETs and the GET before
    // the POST; node:http serves the POST and the GET after it on that connection.
    expect(path.served()).toBe(17);
    // The POST, the admin endpoint, absolute-form and the three malformed requests.
    expect(path.handedOff()).toBe(6);
  });
});

describe('fast-path connections', () => {
  let gw: RunningGateway;
  let up: Upstream;

  beforeAll(async () => {
    up = await upstreamAnswers();
    gw = await startGateway({ settings: { keepAliveTimeoutMs: 300 } });
    await addUpstream(gw.gateway, 'static', up);
  });
  afterAll(async () => {
    await gw.close();
    await up.close();
  });

  it('hands a head that arrives in two reads to node:http, which answers it', async () => {
    const handed = gw.gateway.fastPath!.handedOff();
    const socket = connect(gw.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.write('GET /ok HTTP/1.1\r\nHo');
    await new Promise((r) => setTimeout(r, 50));
    socket.write('st: t\r\n\r\n');
    await waitFor('the answer', () => Buffer.concat(chunks).toString().endsWith('hello'));
    socket.destroy();
    expect(Buffer.concat(chunks).toString()).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(gw.gateway.fastPath!.handedOff()).toBe(handed + 1);
  });

  it('keeps pipelined bytes intact while other connections are read', async () => {
    // Client sockets share one read buffer: the GET and the POST waiting behind /slow must be
    // copied out of it before other connections' reads (2 KiB heads here) overwrite it.
    const handed = gw.gateway.fastPath!.handedOff();
    const socket = connect(gw.port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.write(
      `GET /slow HTTP/1.1\r\n${H}\r\nGET /ok HTTP/1.1\r\n${H}\r\n` +
        `POST /echo HTTP/1.1\r\n${H}Content-Length: 11\r\n\r\nhello world`,
    );
    const fill = `x-fill: ${'z'.repeat(2048)}\r\n`;
    const others = await Promise.all(
      Array.from({ length: 8 }, () =>
        exchange(gw.port, `GET /ok HTTP/1.1\r\n${H}${fill}\r\n`, ['GET']),
      ),
    );
    expect(others.map((o) => o.responses[0]?.body)).toEqual(Array(8).fill('hello'));
    await waitFor('three answers', () => text.endsWith('hello world'));
    socket.destroy();
    const bodies = text.split(/HTTP\/1\.1 200 OK/).slice(1);
    expect(bodies.map((b) => b.slice(b.indexOf('\r\n\r\n') + 4))).toEqual([
      'slow',
      'hello',
      'hello world',
    ]);
    // The POST went to node:http, with its bytes as they were sent.
    expect(gw.gateway.fastPath!.handedOff()).toBe(handed + 1);
  });

  it('closes a keep-alive connection idle past KEEPALIVE_TIMEOUT', async () => {
    const served = gw.gateway.fastPath!.served();
    const socket = connect(gw.port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(`GET /ok HTTP/1.1\r\n${H}\r\n`);
    await closed;
    expect(text).toMatch(/keep-alive: timeout=0/);
    expect(text.split('HTTP/1.1 200').length - 1).toBe(1);
    expect(gw.gateway.fastPath!.served()).toBe(served + 1);
    expect(gw.gateway.fastPath!.open()).toBe(0);
  });

  it('answers a request whose client half-closed right after sending it', async () => {
    const socket = connect({ port: gw.port, host: '127.0.0.1', allowHalfOpen: true });
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.end(`GET /slow HTTP/1.1\r\n${H}\r\n`);
    await closed;
    expect(text).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nslow$/);
  });

  it('aborts the upstream request when the client leaves mid-request', async () => {
    const before = up.seen.length;
    const socket = connect(gw.port, '127.0.0.1');
    socket.write(`GET /hang HTTP/1.1\r\n${H}\r\n`);
    await waitFor('the upstream to see it', () => up.seen.length > before);
    expect(gw.gateway.proxy.inFlight()).toBe(1);
    socket.destroy();
    // Long before the upstream would answer.
    await waitFor('the request to be given up', () => gw.gateway.proxy.inFlight() === 0);
    expect(gw.gateway.fastPath!.open()).toBe(0);
  });
});
