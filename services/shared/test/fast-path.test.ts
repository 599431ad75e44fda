import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { installFastPath, type FastPath, type FastPathOptions } from '../src/fast-path';

/**
 * The fast path's request bodies (the fetcher's `POST /fetch`), against a server whose node:http
 * handler and fast handler answer differently, so each response says which one served it. The
 * gateway's tests (gateway/test/fast-path.test.ts, smuggling.test.ts) cover the bodyless rest.
 */

interface Running {
  server: Server;
  fast: FastPath;
  port: number;
}

const running: Running[] = [];

async function start(options: Partial<FastPathOptions> = {}): Promise<Running> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = `node ${req.method} ${req.url} ${Buffer.concat(chunks).toString('utf8')}`;
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(text);
    });
  });
  const fast = installFastPath(
    server,
    { maxHeaderSize: 16 * 1024, maxHeaders: 100, keepAliveTimeoutMs: 5000, ...options },
    (req, res) => {
      if (req.url === '/node') return false;
      const text = `fast ${req.method} ${req.url} ${req.body?.toString('utf8') ?? '(none)'} type=${req.header('content-type') ?? '-'}`;
      res.writeHead(200, [
        'content-type',
        'text/plain; charset=utf-8',
        'content-length',
        String(Buffer.byteLength(text)),
      ]);
      res.end(text);
      return true;
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const r = { server, fast, port: (server.address() as AddressInfo).port };
  running.push(r);
  return r;
}

afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.fast.close(0);
    r.server.closeAllConnections();
    await new Promise((resolve) => r.server.close(resolve));
  }
});

/** Sends `parts` (each a write, `pauseMs` apart) and reads until the server closes. */
async function exchange(port: number, parts: (string | Buffer)[], pauseMs = 0): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    socket.once('close', () => resolve());
    socket.once('error', reject);
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  for (const [i, part] of parts.entries()) {
    if (i > 0 && pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    socket.write(part);
  }
  await ended;
  return Buffer.concat(chunks).toString('utf8');
}

/** The bodies of the responses in `raw`, in order (each framed by its Content-Length or chunks). */
function bodies(raw: string): string[] {
  const out: string[] = [];
  let rest = Buffer.from(raw);
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) break;
    const head = rest.subarray(0, end).toString('latin1');
    rest = rest.subarray(end + 4);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (length !== null) {
      out.push(rest.subarray(0, Number(length[1])).toString('utf8'));
      rest = rest.subarray(Number(length[1]));
      continue;
    }
    // Chunked (node:http's reply without a length).
    let body = '';
    for (;;) {
      const line = rest.indexOf('\r\n');
      const size = parseInt(rest.subarray(0, line).toString('latin1'), 16);
      rest = rest.subarray(line + 2);
      if (size === 0) {
        rest = rest.subarray(2);
        break;
      }
      body += rest.subarray(0, size).toString('utf8');
      rest = rest.subarray(size + 2);
    }
    out.push(body);
  }
  return out;
}

const post = (path: string, body: string, extra = '', close = false): string =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
  `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}${close ? 'Connection: close\r\n' : ''}\r\n${body}`;

describe('fast path request bodies', () => {
  it('gives a whole Content-Length body to the handler, up to maxBodyBytes', async () => {
    const { port, fast } = await start({ maxBodyBytes: 16 });
    const raw = await exchange(port, [post('/a', '{"x":1}', '', true)]);
    expect(bodies(raw)).toEqual(['fast POST /a {"x":1} type=application/json']);
    expect([fast.served(), fast.handedOff()]).toEqual([1, 0]);
  });

  it('serves pipelined requests with bodies in order, each with its own body', async () => {
    const { port, fast } = await start({ maxBodyBytes: 16 });
    const raw = await exchange(port, [
      post('/1', 'one') +
        post('/2', 'twö') +
        `GET /3 HTTP/1.1\r\nHost: x\r\n\r\n` +
        post('/4', 'four', '', true),
    ]);
    expect(bodies(raw)).toEqual([
      'fast POST /1 one type=application/json',
      'fast POST /2 twö type=application/json',
      'fast GET /3 (none) type=-',
      'fast POST /4 four type=application/json',
    ]);
    expect(fast.served()).toBe(4);
  });

  it('hands a body over maxBodyBytes to node:http, which reads it whole', async () => {
    const { port, fast } = await start({ maxBodyBytes: 16 });
    const body = 'x'.repeat(17);
    const raw = await exchange(port, [post('/big', body, '', true)]);
    expect(bodies(raw)).toEqual([`node POST /big ${body}`]);
    expect([fast.served(), fast.handedOff()]).toEqual([0, 1]);
  });

  it('hands a body still on its way to node:http, which waits for the rest', async () => {
    const { port, fast } = await start({ maxBodyBytes: 1024 });
    const whole = post('/split', '{"half":"and half"}', '', true);
    const cut = whole.length - 8;
    const raw = await exchange(port, [whole.slice(0, cut), whole.slice(cut)], 50);
    expect(bodies(raw)).toEqual(['node POST /split {"half":"and half"}']);
    expect(fast.handedOff()).toBe(1);
  });

  it('leaves chunked bodies and Expect to node:http', async () => {
    const { port, fast } = await start({ maxBodyBytes: 1024 });
    const chunked = await exchange(port, [
      'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    ]);
    expect(bodies(chunked)).toEqual(['node POST /c abc']);
    const expect100 = await exchange(port, [post('/e', 'hi', 'Expect: 100-continue\r\n', true)]);
    expect(expect100).toContain('node POST /e hi');
    expect([fast.served(), fast.handedOff()]).toEqual([0, 2]);
  });

  it('without maxBodyBytes, any Content-Length (0 too) goes to node:http, as for the gateway', async () => {
    const { port, fast } = await start();
    const raw = await exchange(port, [post('/zero', '') + post('/one', 'y', '', true)]);
    expect(bodies(raw)).toEqual(['node POST /zero ', 'node POST /one y']);
    expect([fast.served(), fast.handedOff()]).toEqual([0, 1]);
  });

  it('answers a handler that declines on node:http, body and all', async () => {
    const { port, fast } = await start({ maxBodyBytes: 1024 });
    const raw = await exchange(port, [post('/a', 'first') + post('/node', 'second', '', true)]);
    expect(bodies(raw)).toEqual([
      'fast POST /a first type=application/json',
      'node POST /node second',
    ]);
    expect([fast.served(), fast.handedOff()]).toEqual([1, 1]);
  });

  it('writes a text body of any UTF-8 with its head, byte for byte', async () => {
    const { port } = await start({ maxBodyBytes: 1024 });
    const text = '{"é":"😀","ß":"中文"}';
    const raw = await exchange(port, [post('/u', text, '', true)]);
    expect(bodies(raw)).toEqual([`fast POST /u ${text} type=application/json`]);
  });
});

describe('fast path headers for log lines', () => {
  it("gives req.headers, req.header(name) and res.getHeaders() as node:http's objects have them", async () => {
    const replyHeaders = ['Content-Type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2'];
    const names = ['accept', 'user-agent', 'cookie', 'x-trace', 'x-none'];
    const report = (
      headers: unknown,
      response: unknown,
      header: (name: string) => unknown,
    ): string => JSON.stringify({ headers, response, one: names.map(header) });
    const server = createServer((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.end(report(req.headers, res.getHeaders(), (name) => req.headers[name] ?? null));
    });
    const fast = installFastPath(
      server,
      { maxHeaderSize: 16 * 1024, maxHeaders: 100, keepAliveTimeoutMs: 5000 },
      (req, res) => {
        if (req.url === '/node') return false;
        res.writeHead(200, replyHeaders);
        res.end(report(req.headers, res.getHeaders(), (name) => req.header(name) ?? null));
        return true;
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    running.push({ server, fast, port: (server.address() as AddressInfo).port });
    const port = (server.address() as AddressInfo).port;
    // Repeats of each kind node:http treats differently: dropped, joined with "; " or ", ",
    // gathered in a list; and names in any letter case.
    const head = (path: string) =>
      `GET ${path} HTTP/1.1\r\nHost: h\r\nUser-Agent: one\r\nuser-agent: two\r\n` +
      `Cookie: a=1\r\nCOOKIE: b=2\r\nAccept: text/plain\r\naccept: */*\r\n` +
      `Set-Cookie: x=1\r\nset-cookie: y=2\r\nX-Trace: t\r\nConnection: close\r\n\r\n`;
    const [viaFast, viaNode] = [
      bodies(await exchange(port, [head('/fast')]))[0]!,
      bodies(await exchange(port, [head('/node')]))[0]!,
    ];
    expect(JSON.parse(viaFast)).toEqual(JSON.parse(viaNode));
    expect(JSON.parse(viaFast)).toMatchObject({
      headers: { 'user-agent': 'one', cookie: 'a=1; b=2', accept: 'text/plain, */*' },
      response: { 'set-cookie': ['a=1', 'b=2'] },
      one: ['text/plain, */*', 'one', 'a=1; b=2', 't', null],
    });
    expect([fast.served(), fast.handedOff()]).toEqual([1, 1]);
  });
});
