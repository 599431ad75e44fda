/**
 * The floor of "a fetch service over HTTP on undici": `node raw-relay.ts PORT` reads HTTP/1.1
 * requests straight off `node:net` sockets (a head, a Content-Length body, nothing else), fetches
 * the envelope's url through a bare undici dispatch handler and writes a small JSON reply in one
 * write. No node:http objects, no validation, no SSRF check, no limits, metrics or logs: the least
 * any Node service can spend serving one HTTP exchange and making another with undici. If this
 * relay cannot reach a target in the same run, no fetcher built on undici can.
 */
import { createServer, type Socket } from 'node:net';
import { Pool, type Dispatcher } from 'undici';

const pools = new Map<string, Pool>();
const HEAD_END = Buffer.from('\r\n\r\n');

function poolFor(origin: string): Pool {
  let pool = pools.get(origin);
  if (pool === undefined) pools.set(origin, (pool = new Pool(origin, { connections: 128 })));
  return pool;
}

/** GET `url` and collect the body: undici's dispatch API without request()'s stream and promise. */
function fetchText(url: string, done: (status: number, headers: object, text: string) => void) {
  const u = new URL(url);
  const chunks: Buffer[] = [];
  let status = 0;
  let headers: object = {};
  const handler: Dispatcher.DispatchHandler = {
    // undici calls it on every handler, with the controller this relay does not need.
    onRequestStart() {},
    onResponseStart(_c, statusCode, h) {
      status = statusCode;
      headers = h;
    },
    onResponseData(_c, chunk) {
      chunks.push(chunk);
    },
    onResponseEnd() {
      done(status, headers, Buffer.concat(chunks).toString('utf8'));
    },
    onResponseError(_c, err) {
      done(502, {}, String(err));
    },
  };
  poolFor(u.origin).dispatch(
    { origin: u.origin, path: u.pathname + u.search, method: 'GET' },
    handler,
  );
}

function reply(socket: Socket, body: string): void {
  const n = Buffer.byteLength(body);
  socket.write(
    `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${n}\r\n\r\n${body}`,
  );
}

/** One connection: requests answered in order (a pipelined one waits for the one before). */
function serve(socket: Socket): void {
  let buffered: Buffer = Buffer.alloc(0);
  let busy = false;
  const next = (): void => {
    if (busy) return;
    const headEnd = buffered.indexOf(HEAD_END);
    if (headEnd < 0) return;
    const head = buffered.toString('latin1', 0, headEnd);
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    const bodyStart = headEnd + HEAD_END.length;
    if (buffered.length < bodyStart + length) return;
    const envelope = buffered.toString('utf8', bodyStart, bodyStart + length);
    buffered = buffered.subarray(bodyStart + length);
    busy = true;
    const { url } = JSON.parse(envelope) as { url: string };
    fetchText(url, (status, headers, text) => {
      reply(
        socket,
        JSON.stringify({ ok: status < 400, status, url, headers, body: { as: 'text', text } }),
      );
      busy = false;
      next();
    });
  };
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    next();
  });
  socket.on('error', () => socket.destroy());
}

createServer({ noDelay: true }, serve).listen(Number(process.argv[2]), '127.0.0.1');
