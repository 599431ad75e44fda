import { STATUS_CODES, type Server } from 'node:http';
import { Socket as NetSocket, type Socket } from 'node:net';

/**
 * A fast path in front of node:http (the gateway's, and the fetcher's `POST /fetch`): most of
 * what a small request costs on node:http's server is building an IncomingMessage and a
 * ServerResponse, two streams such a request barely uses (a head and a small body read once, a
 * head and a body written once). Here each connection is parsed by the same llhttp parser
 * node:http uses, with the same strictness (no lenient flags, the same MAX_HEADER_SIZE), and the
 * common request is served with two plain objects instead:
 *
 *   a complete, well-formed request head in hand, no Transfer-Encoding, no Upgrade, no Expect,
 *   exactly one Host, an origin-form target, at most 32 header fields; no body, or (where the
 *   server allows bodies, `maxBodyBytes`) a Content-Length body no larger than that which came
 *   whole with its head; and a request the handler takes (the gateway: not `/-/…`).
 *
 * Anything else, and anything llhttp refuses, hands the connection to node:http for good: the
 * request's bytes are put back on the socket and node:http's own connection handler takes it, so
 * it answers exactly as it would have alone (400, 408, 413, 431, 100-continue, upgrades, bodies,
 * the admin endpoints). The fast path never answers a malformed request itself, which is why the
 * smuggling corpus cannot tell the two apart. Requests on one connection are served one at a
 * time, in order (pipelined ones wait, unparsed). DECISIONS.md #62 and #65.
 */

/** What the proxy reads from a client request: node:http's IncomingMessage or a FastRequest. */
export interface ClientRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly rawHeaders: string[];
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  readonly socket: Socket;
  /** The whole request (body included) has been read. */
  readonly complete: boolean;
}

/** What the proxy does with a response: node:http's ServerResponse or a FastResponse. */
export interface ClientResponse {
  writeHead(statusCode: number, headers: string[]): unknown;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer | string): unknown;
  once(event: 'close' | 'drain', listener: () => void): unknown;
  destroy(): unknown;
  /** Writes the head now (event streams), instead of with the first body bytes. */
  flushHeaders(): void;
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  readonly statusCode: number;
  shouldKeepAlive: boolean;
}

/** The part of node's `_http_common` used here: the HTTPParser binding node:http parses with. */
interface HttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | (Error & { code?: string });
  close(): void;
  [callback: number]: unknown;
  conn?: FastConnection;
}
interface HttpCommon {
  HTTPParser: {
    new (): HttpParser;
    REQUEST: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kLenientNone: number;
  };
  methods: readonly string[];
}

const common = process.getBuiltinModule('_http_common') as HttpCommon | undefined;

/** False when this Node has no `_http_common` parser: every connection then goes to node:http. */
export const FAST_PATH_AVAILABLE = typeof common?.HTTPParser === 'function';

/**
 * llhttp's answer to `on_headers_complete` meaning "no body follows, stop here": `execute`
 * returns at the end of the head, so every request's end is a known byte offset (where the next
 * one starts, or where node:http takes over).
 */
const STOP_AFTER_HEAD = 2;
const CONNECT = 'CONNECT';

export class FastRequest implements ClientRequest {
  readonly complete = true;
  constructor(
    readonly method: string,
    readonly url: string,
    readonly rawHeaders: string[],
    readonly httpVersionMajor: number,
    readonly httpVersionMinor: number,
    readonly socket: Socket,
    /** The whole body (Content-Length, at most `maxBodyBytes`); undefined when there is none. */
    readonly body: Buffer | undefined,
  ) {}

  /**
   * The value of header `name` (given in lower case) as node:http's `req.headers[name]` has it:
   * repeats joined with ", " ("; " for Cookie), or the first kept for Content-Type and the other
   * fields node:http does not repeat. Not for Set-Cookie, a list there (`headers` has it).
   */
  header(name: string): string | undefined {
    const raw = this.rawHeaders;
    let value: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i]!;
      if (n.length === name.length && n.toLowerCase() === name) {
        value = withRepeat(name, value, raw[i + 1]!) as string;
      }
    }
    return value;
  }

  /** The headers as node:http's `req.headers` has them, made on each call (for log lines). */
  get headers(): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      out[name] = withRepeat(name, out[name], raw[i + 1]!);
    }
    return out;
  }
}

/** Header `name`'s value so far (`seen`) with one more `value`, as node:http's req.headers. */
function withRepeat(
  name: string,
  seen: string | string[] | undefined,
  value: string,
): string | string[] {
  if (name === 'set-cookie') {
    return seen === undefined ? [value] : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  if (seen === undefined) return value;
  if (name === 'cookie') return `${String(seen)}; ${value}`;
  return SINGLE_VALUED.has(name) ? seen : `${String(seen)}, ${value}`;
}

/** Request headers whose repeats node:http drops (its default, without joinDuplicateHeaders). */
const SINGLE_VALUED = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

let cachedDate: string | undefined;
/** The Date header, built at most once a second (as node:http does). */
function httpDate(): string {
  if (cachedDate === undefined) {
    const now = new Date();
    cachedDate = now.toUTCString();
    setTimeout(() => (cachedDate = undefined), 1000 - now.getMilliseconds()).unref();
  }
  return cachedDate;
}

const CRLF = '\r\n';
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
/** Up to this size a body is copied next to its head for a single write. */
const ONE_WRITE_MAX = 16 * 1024;

/**
 * A response written straight to the socket: the head is built as one string when the proxy
 * calls writeHead and goes out with the first body bytes (one write, corked). Framing as
 * node:http frames it: the upstream's Content-Length when there is one, else chunked for
 * HTTP/1.1 and close-delimited for HTTP/1.0; no body for HEAD, 204 and 304.
 */
export class FastResponse implements ClientResponse {
  statusCode = 200;
  shouldKeepAlive: boolean;
  headersSent = false;
  finished = false;
  private head: string | undefined;
  /** The list given to writeHead, for getHeaders. */
  private headerList: readonly string[] = [];
  private chunked = false;
  private bodyless: boolean;
  private onClose: (() => void) | undefined;

  constructor(
    private readonly conn: FastConnection,
    private readonly socket: Socket,
    private readonly headRequest: boolean,
    private readonly http10: boolean,
    keepAlive: boolean,
  ) {
    this.shouldKeepAlive = keepAlive;
    this.bodyless = headRequest;
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  /**
   * The headers given to writeHead, by lower-case name, as node:http's `res.getHeaders()` has
   * them (without the Date and Connection it adds itself). Made on each call, for log lines.
   */
  getHeaders(): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    const list = this.headerList;
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i]!.toLowerCase();
      const seen = out[name];
      const value = list[i + 1]!;
      out[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
    }
    return out;
  }

  writeHead(statusCode: number, headers: string[]): this {
    this.statusCode = statusCode;
    this.headerList = headers;
    let head = `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? 'unknown'}${CRLF}`;
    let length = false;
    let date = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (name === 'content-length') length = true;
      else if (name === 'date') date = true;
      else if (name === 'connection') {
        if (value === 'close') this.shouldKeepAlive = false;
        continue;
      }
      head += `${name}: ${value}${CRLF}`;
    }
    if (!date) head += `date: ${httpDate()}${CRLF}`;
    if (statusCode === 204 || statusCode === 304 || statusCode < 200) this.bodyless = true;
    if (!length && !this.bodyless) {
      // An HTTP/1.0 client cannot read chunks: the end of the body is the end of the connection.
      if (this.http10) this.shouldKeepAlive = false;
      else {
        this.chunked = true;
        head += `transfer-encoding: chunked${CRLF}`;
      }
    }
    head += this.shouldKeepAlive ? this.conn.lane.keepAliveHeader : `connection: close${CRLF}`;
    this.head = head + CRLF;
    return this;
  }

  flushHeaders(): void {
    if (this.head === undefined || this.headersSent) return;
    this.headersSent = true;
    this.socket.write(this.head, 'latin1');
  }

  write(chunk: Buffer): boolean {
    if (this.socket.destroyed) return false;
    if (this.bodyless || chunk.length === 0) {
      if (!this.headersSent) this.flushHeaders();
      return true;
    }
    const socket = this.socket;
    socket.cork();
    if (!this.headersSent) this.flushHeaders();
    if (this.chunked) socket.write(`${chunk.length.toString(16)}${CRLF}`, 'latin1');
    let ok = socket.write(chunk);
    if (this.chunked) ok = socket.write(CRLF, 'latin1');
    socket.uncork();
    return ok;
  }

  end(chunk?: Buffer | string): this {
    if (this.finished) return this;
    this.finished = true;
    const head = this.head;
    if (
      typeof chunk === 'string' &&
      head !== undefined &&
      !this.headersSent &&
      !this.chunked &&
      !this.bodyless &&
      !this.socket.destroyed &&
      chunk.length <= ONE_WRITE_MAX
    ) {
      // A text body (a JSON reply) goes out with its head in one buffer, encoded straight into it.
      this.headersSent = true;
      const out = Buffer.allocUnsafe(head.length + Buffer.byteLength(chunk));
      out.write(head, 0, 'latin1');
      out.write(chunk, head.length, 'utf8');
      this.socket.write(out);
    } else if (
      head !== undefined &&
      !this.headersSent &&
      !this.chunked &&
      typeof chunk !== 'string' &&
      !this.socket.destroyed
    ) {
      // The whole response at once (the common case): head and body copied into one buffer
      // (a slice of Node's pool when small) and one write, instead of a corked writev.
      this.headersSent = true;
      if (this.bodyless || chunk === undefined || chunk.length === 0) {
        this.socket.write(head, 'latin1');
      } else if (chunk.length <= ONE_WRITE_MAX) {
        const out = Buffer.allocUnsafe(head.length + chunk.length);
        out.write(head, 0, 'latin1');
        chunk.copy(out, head.length);
        this.socket.write(out);
      } else {
        this.socket.cork();
        this.socket.write(head, 'latin1');
        this.socket.write(chunk);
        this.socket.uncork();
      }
    } else if (!this.socket.destroyed) {
      const socket = this.socket;
      socket.cork();
      if (chunk !== undefined && chunk.length > 0) {
        this.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      } else if (!this.headersSent) {
        this.flushHeaders();
      }
      if (this.chunked && !this.bodyless) socket.write(LAST_CHUNK);
      socket.uncork();
    }
    this.conn.responseDone(this);
    return this;
  }

  once(event: 'close' | 'drain', listener: () => void): this {
    if (event === 'drain') this.socket.once('drain', listener);
    else this.onClose = listener;
    return this;
  }

  destroy(): this {
    this.socket.destroy();
    return this;
  }

  /** The connection closed: tells the proxy if this response was still being written. */
  closed(): void {
    if (!this.finished) this.onClose?.();
  }
}

/** Serves a fast request; false when node:http must take it (the admin endpoints). */
export type FastHandler = (req: FastRequest, res: FastResponse) => boolean;

export interface FastPathOptions {
  /** MAX_HEADER_SIZE: the same head limit node:http's parser enforces. */
  maxHeaderSize: number;
  /** MAX_HEADERS: a head with more fields goes to node:http, which answers 431. */
  maxHeaders: number;
  /** KEEPALIVE_TIMEOUT: an idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /**
   * Requests with a Content-Length body up to this many bytes, arrived whole with their head, are
   * served here too (`FastRequest.body`); larger ones, and bodies still on their way, go to
   * node:http. 0 (the default): every request with a body goes to node:http.
   */
  maxBodyBytes?: number;
  /**
   * A client that half-closes (sends FIN) while its request is served has gone: the connection
   * is closed and the response abandoned ('close'), as node:http does by default
   * (httpAllowHalfOpen false). Default false: the gateway still answers such a client.
   */
  halfCloseAborts?: boolean;
}

export interface FastPath {
  /** Connections the fast path serves now (not counting those handed to node:http). */
  open(): number;
  /** Requests served on the fast path so far. */
  served(): number;
  /** Connections handed to node:http so far. */
  handedOff(): number;
  /**
   * Shutdown: connections between requests close now, the others after their response (which
   * says `Connection: close`), any left at `graceMs` are destroyed. True when all closed in time.
   */
  close(graceMs: number): Promise<boolean>;
}

/** Bytes held while a response is in flight (pipelined requests) before the socket is paused. */
const MAX_HELD = 64 * 1024;

/**
 * Client sockets read into this one buffer, as node:http's own C++ parser does, instead of into
 * a new ArrayBuffer per read: fewer ArrayBuffers make shorter young-GC pauses, which is the
 * gateway's p99 (README "The tail"). A read is parsed before the next one can arrive; what must
 * outlive it (pipelined bytes, bytes handed to node:http) is copied out by `owned`.
 *
 * net.Socket has this mode (`onread`) for the sockets it connects, not for those a server
 * accepts, so it is switched on with the two fields the `onread` option sets, found by name.
 * Without them (another Node), the fast path reads 'data' events as before.
 */
const READS = Buffer.allocUnsafeSlow(64 * 1024);
const probe = Object.getOwnPropertySymbols(new NetSocket());
const kBuffer = probe.find((s) => s.description === 'kBuffer');
const kBufferCb = probe.find((s) => s.description === 'kBufferCb');

type ReadCallback = (nread: number, buf: Buffer) => boolean;
interface UserBufferHandle {
  useUserBuffer?: (buf: Buffer) => void;
}

/** Makes `socket` read into READS and call `onRead`; false when this Node cannot. */
function readIntoShared(socket: Socket, onRead: ReadCallback): boolean {
  const handle = (socket as unknown as { _handle?: UserBufferHandle })._handle;
  if (kBuffer === undefined || kBufferCb === undefined || !handle?.useUserBuffer) return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  if (fields[kBuffer] !== null || fields[kBufferCb] !== null) return false;
  fields[kBuffer] = READS;
  fields[kBufferCb] = onRead;
  handle.useUserBuffer(READS);
  return true;
}

/** `bytes` itself, or a copy when they are a view of READS (which the next read overwrites). */
function owned(bytes: Buffer): Buffer {
  return bytes.buffer === READS.buffer ? Buffer.from(bytes) : bytes;
}

class FastConnection {
  readonly parser: HttpParser;
  held: Buffer | undefined = undefined;
  busy = false;
  parsing = false;
  readEnded = false;
  closing = false;
  done = false;
  handedOff = false;
  idleSince = Date.now();
  res: FastResponse | undefined = undefined;
  // The head llhttp just parsed (set from its callback, used once `execute` returns).
  seen = false;
  eligible = true;
  method = '';
  url = '';
  headers: string[] = [];
  major = 1;
  minor = 1;
  keepAlive = true;
  bodyLength = 0;

  constructor(
    readonly lane: FastLane,
    readonly socket: Socket,
  ) {
    this.parser = new common!.HTTPParser();
    this.parser.initialize(
      common!.HTTPParser.REQUEST,
      {},
      lane.options.maxHeaderSize,
      common!.HTTPParser.kLenientNone,
    );
    this.parser.conn = this;
    this.parser[common!.HTTPParser.kOnHeaders] = onHeaders;
    this.parser[common!.HTTPParser.kOnHeadersComplete] = onHeadersComplete;
    if (!readIntoShared(socket, this.onRead)) socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  /** A read into READS. Once node:http has the socket, it gets a copy the usual way. */
  readonly onRead = (nread: number): boolean => {
    if (this.handedOff) return this.socket.push(Buffer.from(READS.subarray(0, nread)));
    this.onData(READS.subarray(0, nread));
    return true;
  };

  readonly onData = (chunk: Buffer): void => {
    // Closing (the client said so, or a draining gateway): what else it sends is not read.
    if (this.done) return;
    this.held = this.held === undefined ? chunk : Buffer.concat([this.held, chunk]);
    if (this.busy) {
      this.held = owned(this.held);
      if (this.held.length > MAX_HELD) this.socket.pause();
      return;
    }
    this.run();
    if (this.held !== undefined) this.held = owned(this.held);
  };

  readonly onEnd = (): void => {
    this.readEnded = true;
    if (this.busy && this.lane.options.halfCloseAborts === true) this.socket.destroy();
    else if (!this.busy) this.run();
  };

  readonly onError = (): void => {
    this.socket.destroy();
  };

  readonly onClose = (): void => {
    this.finish();
    this.res?.closed();
  };

  /** Serves the held requests one by one until one is in flight, or the bytes run out. */
  run(): void {
    if (this.parsing) return;
    this.parsing = true;
    while (!this.busy && !this.done && this.held !== undefined) {
      const buf = this.held;
      this.seen = false;
      this.eligible = true;
      const parsed = this.parser.execute(buf);
      if (typeof parsed !== 'number' || !this.seen || !this.eligible) {
        // Refused by llhttp, an incomplete head, or not a request for the fast path: node:http
        // takes the connection from this request's first byte on.
        this.handOff(buf);
        break;
      }
      let body: Buffer | undefined;
      let end = parsed;
      if (this.bodyLength > 0) {
        end = parsed + this.bodyLength;
        if (end > buf.length) {
          // The body is still coming: node:http reads it (and times it out) as usual.
          this.handOff(buf);
          break;
        }
        body = owned(buf.subarray(parsed, end));
      }
      this.held = end < buf.length ? buf.subarray(end) : undefined;
      if (!this.keepAlive) {
        // The client said close (or HTTP/1.0 without keep-alive): nothing after this is read.
        this.closing = true;
        this.held = undefined;
      }
      this.serve(buf, body);
    }
    this.parsing = false;
    if (!this.busy && !this.done && this.held === undefined && this.readEnded) this.close();
  }

  serve(buf: Buffer, body: Buffer | undefined): void {
    const req = new FastRequest(
      this.method,
      this.url,
      this.headers,
      this.major,
      this.minor,
      this.socket,
      body,
    );
    const res = new FastResponse(
      this,
      this.socket,
      this.method === 'HEAD',
      this.minor === 0,
      !this.closing && !this.lane.draining,
    );
    this.busy = true;
    this.res = res;
    this.lane.servedCount++;
    if (!this.lane.handler(req, res)) {
      this.lane.servedCount--;
      this.busy = false;
      this.res = undefined;
      this.handOff(buf);
    }
  }

  responseDone(res: FastResponse): void {
    if (this.res !== res) return;
    this.res = undefined;
    this.busy = false;
    if (!res.shouldKeepAlive || this.closing) {
      this.close();
      return;
    }
    this.idleSince = Date.now();
    if (this.socket.isPaused()) this.socket.resume();
    this.run();
  }

  handOff(bytes: Buffer): void {
    const socket = this.socket;
    this.finish();
    socket.pause();
    socket.removeListener('data', this.onData);
    socket.removeListener('end', this.onEnd);
    socket.removeListener('error', this.onError);
    socket.removeListener('close', this.onClose);
    this.handedOff = true;
    socket.unshift(owned(bytes));
    this.lane.handOff(socket);
    // node:http listens for 'data' now; the bytes put back come first.
    socket.resume();
  }

  /** Done with the connection: ends it once what was written has gone out. */
  close(): void {
    this.finish();
    this.socket.end();
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.held = undefined;
    this.parser.conn = undefined;
    this.parser.close();
    this.lane.connections.delete(this);
  }
}

function onHeaders(this: HttpParser): void {
  // More than 32 fields arrive in batches: rare enough to leave to node:http.
  if (this.conn !== undefined) this.conn.eligible = false;
}

function onHeadersComplete(
  this: HttpParser,
  major: number,
  minor: number,
  headers: string[] | undefined,
  method: number,
  url: string | undefined,
  _statusCode: unknown,
  _statusMessage: unknown,
  upgrade: boolean,
  keepAlive: boolean,
): number {
  const c = this.conn;
  if (c === undefined) return STOP_AFTER_HEAD;
  c.seen = true;
  const name = common!.methods[method] ?? CONNECT;
  const bodyLength =
    headers === undefined || headers.length > c.lane.maxHeaderFields
      ? NOT_PLAIN
      : plainBodyLength(headers, c.lane.maxBodyBytes);
  if (
    url === undefined ||
    upgrade ||
    name === CONNECT ||
    url.charCodeAt(0) !== 0x2f ||
    bodyLength === NOT_PLAIN
  ) {
    c.eligible = false;
    return STOP_AFTER_HEAD;
  }
  c.bodyLength = bodyLength;
  c.method = name;
  c.url = url;
  c.headers = headers!;
  c.major = major;
  c.minor = minor;
  c.keepAlive = keepAlive;
  return STOP_AFTER_HEAD;
}

const NOT_PLAIN = -1;

/**
 * The body length of a plain head: one Host, no Transfer-Encoding, no Expect, and no
 * Content-Length or one of at most `maxBody` bytes (0: none at all, not even `Content-Length: 0`);
 * its value, or 0 without one. NOT_PLAIN otherwise. llhttp has checked the digits already.
 */
function plainBodyLength(headers: string[], maxBody: number): number {
  let hosts = 0;
  let length = 0;
  let lengths = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    // Only the names that matter are lowercased: by length first, most names skip it.
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') hosts++;
        break;
      case 6:
        if (name.toLowerCase() === 'expect') return NOT_PLAIN;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          lengths++;
          length = Number(headers[i + 1]);
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') return NOT_PLAIN;
        break;
    }
  }
  if (hosts !== 1 || lengths > 1 || (lengths === 1 && !(maxBody > 0 && length <= maxBody)))
    return NOT_PLAIN;
  return length;
}

class FastLane implements FastPath {
  readonly connections = new Set<FastConnection>();
  draining = false;
  servedCount = 0;
  handedOffCount = 0;
  /** MAX_HEADERS as the length of llhttp's flat [name, value, …] list. */
  readonly maxHeaderFields: number;
  /**
   * FastPathOptions.maxBodyBytes; 0 without it: then a Content-Length of any value, 0 included,
   * goes to node:http, as it always has for the gateway.
   */
  readonly maxBodyBytes: number;
  /** `Connection: keep-alive` and its timeout, as node:http announces them. */
  readonly keepAliveHeader: string;
  private readonly sweep: NodeJS.Timeout | undefined;

  constructor(
    readonly options: FastPathOptions,
    readonly handler: FastHandler,
    readonly handOff: (socket: Socket) => void,
  ) {
    this.maxHeaderFields = options.maxHeaders * 2;
    this.maxBodyBytes = options.maxBodyBytes ?? 0;
    const idleMs = options.keepAliveTimeoutMs;
    this.keepAliveHeader =
      idleMs > 0
        ? `connection: keep-alive${CRLF}keep-alive: timeout=${Math.floor(idleMs / 1000)}${CRLF}`
        : `connection: keep-alive${CRLF}`;
    if (idleMs > 0) {
      // One timer for every connection instead of one per socket (cf. client-idle-sweep.ts):
      // an idle connection closes between KEEPALIVE_TIMEOUT and a quarter of it later.
      this.sweep = setInterval(
        () => {
          const now = Date.now();
          for (const c of this.connections) {
            if (!c.busy && c.held === undefined && now - c.idleSince >= idleMs) c.close();
          }
        },
        Math.max(10, Math.min(1000, Math.floor(idleMs / 4))),
      );
      this.sweep.unref();
    }
  }

  accept(socket: Socket): void {
    this.connections.add(new FastConnection(this, socket));
  }

  open(): number {
    return this.connections.size;
  }

  served(): number {
    return this.servedCount;
  }

  handedOff(): number {
    return this.handedOffCount;
  }

  close(graceMs: number): Promise<boolean> {
    this.draining = true;
    clearInterval(this.sweep);
    return new Promise((resolve) => {
      let inTime = true;
      const closeIdle = (): void => {
        for (const c of this.connections) if (!c.busy) c.close();
        if (this.connections.size > 0) return;
        clearInterval(sweep);
        clearTimeout(deadline);
        resolve(inTime);
      };
      // As closeHttpServer does for node:http's connections: idle ones now and as they become
      // idle, the rest at the deadline.
      const sweep = setInterval(closeIdle, 50);
      const deadline = setTimeout(() => {
        inTime = false;
        for (const c of [...this.connections]) c.socket.destroy();
      }, graceMs);
      closeIdle();
    });
  }
}

/**
 * Puts the fast path in front of `server`: node:http's own connection handler is taken off the
 * server and called only for the connections handed over, so `listen`, `close`, the connection
 * limit and node:http's timeouts work as before.
 */
export function installFastPath(
  server: Server,
  options: FastPathOptions,
  handler: FastHandler,
): FastPath {
  const [nodeHandler] = server.listeners('connection') as ((socket: Socket) => void)[];
  if (!FAST_PATH_AVAILABLE || nodeHandler === undefined) {
    throw new Error('this Node has no _http_common parser for the fast path');
  }
  server.removeListener('connection', nodeHandler);
  const lane = new FastLane(options, handler, (socket) => {
    lane.handedOffCount++;
    nodeHandler.call(server, socket);
  });
  server.on('connection', (socket: Socket) => lane.accept(socket));
  return lane;
}
