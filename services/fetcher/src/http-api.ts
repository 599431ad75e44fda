import {
  createServer,
  maxHeaderSize,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { pipeline } from 'node:stream';
import {
  closeHttpServer,
  createHttpLogger,
  FAST_PATH_AVAILABLE,
  installFastPath,
  netlabError,
  problemHeaders,
  REQUEST_ID_HEADER,
  requestIdOf,
  toProblem,
  type FastPath,
  type FastRequest,
  type FastResponse,
  type Health,
  type Lifecycle,
  type Logger,
} from '@netlab/shared';
import { parseDownloadStart, type DownloadEvent, type DownloadManager } from './download-manager';
import { fetcherError, isFetcherError } from './errors';
import type { CancelHook, FetchEngine } from './fetch-engine';
import { parseEnvelopeJson, parseFetchRequest } from './request-model';
import { STREAM_HIGH_WATER_MARK } from './response-body';
import type { SessionStore } from './session-store';

/**
 * The HTTP face of the fetcher:
 *
 * ```
 * POST   /fetch                  envelope in, envelope out (body inline, capped)
 * POST   /fetch/stream           envelope in, the upstream response streamed out
 * POST   /downloads              envelope (+ "download": {filename, sha256}) in, 202 + record out
 * GET    /downloads              every record kept
 * GET    /downloads/:id          one record: state, bytes, total, rate, path, sha256, error
 * DELETE /downloads/:id          cancel
 * GET    /downloads/:id/events   progress as server-sent events
 * GET    /sessions/:name         a session's cookies
 * DELETE /sessions/:name         forget a session
 * GET    /healthz /readyz /metrics
 * ```
 *
 * `POST /fetch` with a small envelope that arrived whole is served on the shared fast path
 * (shared/src/fast-path.ts) in front of node:http, with the same request log line; node:http
 * serves everything else, on the same port. DECISIONS.md #65.
 */

export interface FetcherAppDeps {
  engine: FetchEngine;
  downloads: DownloadManager;
  sessions: SessionStore;
  health: Health;
  logger: Logger;
  lifecycle?: Lifecycle;
  /** FETCH_MAX_REQUEST_BYTES */
  maxRequestBytes: number;
  /** FETCH_FAST_PATH: serve `POST /fetch` on the fast path (default true). */
  fastPath?: boolean;
}

/** The fetcher's HTTP server, and the fast path in front of it. */
export interface FetcherHttp {
  server: Server;
  /** undefined when off (FETCH_FAST_PATH=false, or a Node without it). */
  fastPath: FastPath | undefined;
  /**
   * Stops taking requests and finishes those running, on node:http's connections and the fast
   * path's alike; what is still open at `graceMs` is cut. True when all finished in time.
   */
  close(graceMs: number): Promise<boolean>;
}

/**
 * Envelopes up to this size that arrive whole with their head take the fast path (all but
 * uploads sent inline); larger ones are streamed in by node:http under FETCH_MAX_REQUEST_BYTES.
 */
export const FAST_PATH_MAX_ENVELOPE = 64 * 1024;

// Hop-by-hop headers of the upstream connection do not pass through (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** What a reply is written to: node:http's ServerResponse or the fast path's FastResponse. */
interface Reply {
  writeHead(status: number, headers: string[]): unknown;
  end(body: string): unknown;
  destroy(): unknown;
  readonly headersSent: boolean;
  readonly statusCode: number;
}

function sendJson(
  res: Reply,
  status: number,
  value: unknown,
  location?: string,
  requestId?: string,
): void {
  const body = JSON.stringify(value);
  // A flat list of headers: writeHead takes it as is, without a setHeader per name.
  const headers = [
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
  ];
  if (location !== undefined) headers.push('location', location);
  // Given here rather than by setHeader before: writeHead takes a list as is only when no header
  // was set before it.
  if (requestId !== undefined) headers.push(REQUEST_ID_HEADER, requestId);
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * An RFC 9457 problem. `unreadBody`: the request's body was left unread (refused for its size or
 * type), so the connection closes rather than parse it as the next request. `requestId`: echoed
 * here (when no earlier setHeader did).
 */
function problem(
  res: Reply,
  err: unknown,
  instance: string,
  unreadBody: boolean,
  requestId?: string,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const p = toProblem(err, instance);
  const body = JSON.stringify(p);
  const headers = problemHeaders(body);
  if (unreadBody) headers.push('connection', 'close');
  if (isFetcherError(err) && err.retryAfterS !== undefined)
    headers.push('retry-after', String(err.retryAfterS));
  if (requestId !== undefined) headers.push(REQUEST_ID_HEADER, requestId);
  res.writeHead(p.status, headers);
  res.end(body);
}

function tooLarge(n: number, max: number): Error {
  return fetcherError(
    'FETCH_REQUEST_TOO_LARGE',
    `The envelope is ${n} bytes or more (FETCH_MAX_REQUEST_BYTES=${max}).`,
  );
}

/** The state of one envelope being read: listeners shared by every request read it from here. */
interface JsonRead {
  chunks: Buffer[];
  size: number;
  max: number;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}
const JSON_READ = Symbol('jsonRead');
type ReadingRequest = IncomingMessage & { [JSON_READ]?: JsonRead };

function onJsonData(this: ReadingRequest, chunk: Buffer): void {
  const r = this[JSON_READ]!;
  r.size += chunk.length;
  if (r.size > r.max) {
    this.removeListener('data', onJsonData);
    this.resume();
    r.reject(tooLarge(r.size, r.max));
    return;
  }
  r.chunks.push(chunk);
}

function onJsonEnd(this: ReadingRequest): void {
  const r = this[JSON_READ]!;
  const { chunks } = r;
  try {
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    r.resolve(parseEnvelopeJson(bytes.toString('utf8')));
  } catch (err) {
    r.reject(err);
  }
}

function unsupportedType(): Error {
  return fetcherError(
    'FETCH_UNSUPPORTED_MEDIA_TYPE',
    'Send the envelope as Content-Type: application/json.',
  );
}

function onJsonError(this: ReadingRequest, err: Error): void {
  this[JSON_READ]!.reject(err);
}

/** Reads a JSON request body, refusing a wrong type or more than `max` bytes before buffering it. */
function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) return Promise.reject(unsupportedType());
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) return Promise.reject(tooLarge(declared, max));
  // Events and one promise rather than `for await`, and listeners shared by every request (their
  // state on the request) rather than three closures per request: on a small fetch these show.
  return new Promise((resolve, reject) => {
    (req as ReadingRequest)[JSON_READ] = { chunks: [], size: 0, max, resolve, reject };
    req.on('data', onJsonData);
    req.on('end', onJsonEnd);
    req.on('error', onJsonError);
  });
}

/** Per request: the lifecycle's end of work, and the running fetch's cancel (CancelHook). */
interface RequestState extends CancelHook {
  done: (() => void) | undefined;
}

/** On the fast path, also what its request line needs. */
interface FastRequestState extends RequestState {
  requestId: string;
  /** Date.now() when it came in (0 without request lines). */
  started: number;
  /** Its line is written (when the reply was out, or when the caller left). */
  logged: boolean;
}
const REQUEST_STATE = Symbol('requestState');
type TrackedResponse = ServerResponse & { [REQUEST_STATE]?: RequestState };

// One listener shared by every request: the work is over, and a caller gone early aborts its fetch.
function onResponseClose(this: TrackedResponse): void {
  const s = this[REQUEST_STATE]!;
  s.done?.();
  if (!this.writableFinished) s.cancel?.callerGone();
}

function methodNotAllowed(res: ServerResponse, allow: string): never {
  res.setHeader('allow', allow);
  throw fetcherError('FETCH_METHOD_NOT_ALLOWED', `Use ${allow} here.`);
}

export function createFetcherApp(deps: FetcherAppDeps): FetcherHttp {
  const log = deps.logger.child({ component: 'http' });
  // A fetch is small enough that even the request logger's bookkeeping shows in its CPU profile:
  // when no info line would be written anyway, keep only the request id and one line per failed
  // request.
  const httpLogger = deps.logger.isLevelEnabled('info') ? createHttpLogger(deps.logger) : undefined;
  /** The request id; echoed at once unless `later` (the reply sets it itself, or fail() does). */
  const requestIdFor = (req: IncomingMessage, res: ServerResponse, later: boolean): string => {
    const id = requestIdOf(req.headers[REQUEST_ID_HEADER]);
    if (httpLogger !== undefined) {
      // Given to the request logger, which then logs it rather than making a UUID of its own.
      (req as IncomingMessage & { id?: unknown }).id = id;
      res.setHeader(REQUEST_ID_HEADER, id);
      httpLogger(req, res);
      return id;
    }
    if (!later) res.setHeader(REQUEST_ID_HEADER, id);
    return id;
  };
  /**
   * A problem response, and without the request logger, its log line (the only one for the
   * request). `echoId`: the request id still has to go out with the response.
   */
  const fail = (
    res: Reply,
    err: unknown,
    instance: string,
    req: { method?: string | undefined; url?: string | undefined },
    unreadBody: boolean,
    requestId: string,
    echoId: boolean,
  ): void => {
    if (!isFetcherError(err) && toProblem(err).code === 'INTERNAL')
      log.error({ err }, 'unexpected error');
    problem(res, err, instance, unreadBody, echoId ? requestId : undefined);
    if (httpLogger !== undefined || res.statusCode < 400) return;
    const line = {
      reqId: requestId,
      method: req.method,
      url: req.url,
      statusCode: res.statusCode,
      code: toProblem(err).code,
    };
    if (res.statusCode >= 500) log.error(line, 'request failed');
    else log.warn(line, 'request failed');
  };

  /** The fetch and its reply, from either server; `echoId`: no setHeader has given the id yet. */
  const fetchAndReply = async (
    res: Reply,
    input: unknown,
    requestId: string,
    cancel: CancelHook,
    echoId: boolean,
  ): Promise<void> => {
    const out = await deps.engine.fetch(parseFetchRequest(input), {
      via: 'http',
      cancel,
      requestId,
    });
    sendJson(res, 200, out, undefined, echoId ? requestId : undefined);
  };

  const handleFetch = async (
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    cancel: CancelHook,
  ): Promise<void> =>
    fetchAndReply(
      res,
      await readJson(req, deps.maxRequestBytes),
      requestId,
      cancel,
      // The request logger has set it.
      httpLogger === undefined,
    );

  const handleStream = async (
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    cancel: CancelHook,
  ): Promise<void> => {
    const envelope = parseFetchRequest(await readJson(req, deps.maxRequestBytes));
    const up = await deps.engine.open(envelope, { via: 'stream', cancel, requestId });
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(up.headers)) {
      if (HOP_BY_HOP.has(name)) continue;
      if (up.decoded && (name === 'content-encoding' || name === 'content-length')) continue;
      headers[name] = value;
    }
    headers['x-fetcher-url'] = up.url;
    headers['x-fetcher-redirects'] = String(up.history.length);
    headers['x-fetcher-retries'] = String(up.retries);
    try {
      res.writeHead(up.status, up.reason.replace(/[^\t\x20-\x7e]/g, ''), headers);
    } catch (err) {
      up.body.destroy();
      throw fetcherError(
        'FETCH_UPSTREAM_ERROR',
        `The upstream's headers cannot be passed on: ${(err as Error).message}`,
      );
    }
    // Headers are out: a failure now can only cut the response short, which the caller sees
    // as a truncated body (Content-Length) or a missing last chunk.
    pipeline(up.body, res, (err) => {
      if (err != null) log.debug({ err, requestId }, 'stream ended early');
    });
  };

  const handleDownloadStart = async (
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
  ): Promise<void> => {
    const { envelope, options } = parseDownloadStart(await readJson(req, deps.maxRequestBytes));
    const record = deps.downloads.start(envelope, { ...options, requestId });
    sendJson(res, 202, record, `/downloads/${record.id}`);
  };

  const handleEvents = (req: IncomingMessage, res: ServerResponse, id: string): void => {
    const record = deps.downloads.get(id);
    if (record === undefined) throw fetcherError('FETCH_DOWNLOAD_NOT_FOUND', `No download ${id}.`);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    let seq = 0;
    const send = (e: DownloadEvent): void => {
      seq += 1;
      res.write(`id: ${seq}\nevent: ${e.kind}\ndata: ${JSON.stringify(e.download)}\n\n`);
    };
    // The current state first, so a late subscriber is never left waiting.
    send({ kind: record.state === 'running' ? 'progress' : record.state, download: record });
    if (record.state !== 'running') {
      res.end();
      return;
    }
    const unsubscribe = deps.downloads.subscribe(id, (e) => {
      send(e);
      if (e.kind !== 'progress') {
        unsubscribe();
        res.end();
      }
    });
    res.once('close', unsubscribe);
  };

  const route = async (
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    cancel: CancelHook,
    path: string,
  ): Promise<void> => {
    const method = req.method ?? 'GET';
    if (path === '/fetch') {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      return handleFetch(req, res, requestId, cancel);
    }
    if (path === '/fetch/stream') {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      return handleStream(req, res, requestId, cancel);
    }
    if (path === '/downloads') {
      if (method === 'POST') return handleDownloadStart(req, res, requestId);
      if (method === 'GET') return sendJson(res, 200, { downloads: deps.downloads.list() });
      return methodNotAllowed(res, 'GET, POST');
    }
    const download = /^\/downloads\/([0-9a-f-]{36})(\/events)?$/.exec(path);
    if (download !== null) {
      const id = download[1]!;
      if (download[2] !== undefined) {
        if (method !== 'GET') return methodNotAllowed(res, 'GET');
        return handleEvents(req, res, id);
      }
      if (method === 'GET') {
        const record = deps.downloads.get(id);
        if (record === undefined)
          throw fetcherError('FETCH_DOWNLOAD_NOT_FOUND', `No download ${id}.`);
        return sendJson(res, 200, record);
      }
      if (method === 'DELETE') {
        if (!deps.downloads.cancel(id)) {
          if (deps.downloads.get(id) === undefined)
            throw fetcherError('FETCH_DOWNLOAD_NOT_FOUND', `No download ${id}.`);
        }
        return sendJson(res, 200, deps.downloads.get(id));
      }
      return methodNotAllowed(res, 'GET, DELETE');
    }
    const session = /^\/sessions\/([A-Za-z0-9_-]{1,64})$/.exec(path);
    if (session !== null) {
      const name = session[1]!;
      if (method === 'GET') {
        const cookies = await deps.sessions.list(name);
        if (cookies === undefined) throw netlabError('NOT_FOUND', `No session ${name}.`);
        return sendJson(res, 200, { session: name, cookies });
      }
      if (method === 'DELETE') {
        if (!(await deps.sessions.remove(name)))
          throw netlabError('NOT_FOUND', `No session ${name}.`);
        res.writeHead(204).end();
        return;
      }
      return methodNotAllowed(res, 'GET, DELETE');
    }
    throw netlabError('NOT_FOUND', `No route for ${method} ${path}.`);
  };

  // Larger socket buffers than the 16 KiB default: streamed bodies move in 64 KiB reads.
  const server = createServer({ highWaterMark: STREAM_HIGH_WATER_MARK }, (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (deps.health.handle(req, res, path)) return;
    // POST /fetch, the hot path, gives its id with the reply's headers.
    const requestId = requestIdFor(req, res, path === '/fetch');
    if (deps.lifecycle?.isShuttingDown() === true) {
      res.setHeader('connection', 'close');
      problem(
        res,
        netlabError('SHUTTING_DOWN', 'The fetcher is draining; try another instance.'),
        req.url ?? '/',
        false,
        res.hasHeader(REQUEST_ID_HEADER) ? undefined : requestId,
      );
      return;
    }
    const cancel: RequestState = { cancel: undefined, done: deps.lifecycle?.beginWork() };
    (res as TrackedResponse)[REQUEST_STATE] = cancel;
    res.on('close', onResponseClose);
    const work =
      path === '/fetch' && req.method === 'POST'
        ? handleFetch(req, res, requestId, cancel)
        : route(req, res, requestId, cancel, path);
    work.catch((err: unknown) => {
      const echoId = !res.headersSent && !res.hasHeader(REQUEST_ID_HEADER);
      fail(res, err, path, req, !req.complete, requestId, echoId);
    });
  });

  const fastFetch = async (
    req: FastRequest,
    body: Buffer,
    res: FastResponse,
    requestId: string,
    cancel: CancelHook,
  ): Promise<void> => {
    if (!JSON_TYPE.test(req.header('content-type') ?? '')) throw unsupportedType();
    return fetchAndReply(res, parseEnvelopeJson(body.toString('utf8')), requestId, cancel, true);
  };

  /**
   * `POST /fetch` on the fast path: the same checks, fetch and reply as node:http's, from the
   * envelope that came whole with the head. False hands the request to node:http (any other
   * request, a query string, a draining fetcher, which node:http answers).
   */
  const serveFast = (req: FastRequest, res: FastResponse): boolean => {
    const body = req.body;
    if (body === undefined || req.method !== 'POST' || req.url !== '/fetch') return false;
    if (deps.lifecycle?.isShuttingDown() === true) return false;
    const state: FastRequestState = {
      cancel: undefined,
      done: deps.lifecycle?.beginWork(),
      requestId: requestIdOf(req.header(REQUEST_ID_HEADER)),
      started: httpLogger === undefined ? 0 : Date.now(),
      logged: false,
    };
    // Called only when the connection closes before the reply is out: the caller is gone.
    res.once('close', () => {
      state.cancel?.callerGone();
      fastLine(req, res, state, false);
    });
    const work = fastFetch(req, body, res, state.requestId, state);
    work
      .catch((err: unknown) => fail(res, err, '/fetch', req, false, state.requestId, true))
      .finally(() => {
        state.done?.();
        fastLine(req, res, state, true);
      });
    return true;
  };

  /** The request line, once: when the reply is out, or when the caller left (as node:http's). */
  const fastLine = (
    req: FastRequest,
    res: FastResponse,
    state: FastRequestState,
    completed: boolean,
  ): void => {
    if (httpLogger === undefined || state.logged) return;
    state.logged = true;
    httpLogger.fastLine(req, res, state.requestId, state.started, completed);
  };

  const fastPath =
    deps.fastPath !== false && FAST_PATH_AVAILABLE
      ? installFastPath(
          server,
          {
            maxHeaderSize,
            // node:http's own default when the server sets none.
            maxHeaders: server.maxHeadersCount ?? 2000,
            keepAliveTimeoutMs: server.keepAliveTimeout,
            maxBodyBytes: Math.min(FAST_PATH_MAX_ENVELOPE, deps.maxRequestBytes),
            // A caller that half-closes has gone, as node:http takes it: its fetch is cancelled.
            halfCloseAborts: true,
          },
          serveFast,
        )
      : undefined;

  return {
    server,
    fastPath,
    async close(graceMs) {
      // Fast-path connections are not node:http's to close.
      const [httpInTime, fastInTime] = await Promise.all([
        closeHttpServer(server, graceMs),
        fastPath?.close(graceMs) ?? true,
      ]);
      return httpInTime && fastInTime;
    },
  };
}
