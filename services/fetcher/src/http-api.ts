import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import {
  createHttpLogger,
  netlabError,
  REQUEST_ID_HEADER,
  requestIdOf,
  sendProblem,
  toProblem,
  type Health,
  type Lifecycle,
  type Logger,
} from '@netlab/shared';
import { parseDownloadStart, type DownloadEvent, type DownloadManager } from './download-manager';
import { fetcherError, isFetcherError } from './errors';
import type { CancelHook, FetchEngine } from './fetch-engine';
import { parseFetchRequest } from './request-model';
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
}

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

function sendJson(
  res: ServerResponse,
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

function problem(res: ServerResponse, err: unknown, instance: string, req?: IncomingMessage): void {
  if (res.headersSent) {
    res.destroy(err instanceof Error ? err : undefined);
    return;
  }
  // A body left unread (refused for its size or type) must not be parsed as the next request.
  if (req !== undefined && !req.complete) res.setHeader('connection', 'close');
  if (isFetcherError(err) && err.retryAfterS !== undefined)
    res.setHeader('retry-after', String(err.retryAfterS));
  sendProblem(res, err, instance);
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
  const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
  try {
    r.resolve(JSON.parse(text));
  } catch (err) {
    r.reject(
      fetcherError('FETCH_INVALID_REQUEST', `The envelope is not JSON: ${(err as Error).message}`),
    );
  }
}

function onJsonError(this: ReadingRequest, err: Error): void {
  this[JSON_READ]!.reject(err);
}

/** Reads a JSON request body, refusing a wrong type or more than `max` bytes before buffering it. */
function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) {
    return Promise.reject(
      fetcherError(
        'FETCH_UNSUPPORTED_MEDIA_TYPE',
        'Send the envelope as Content-Type: application/json.',
      ),
    );
  }
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

export function createFetcherApp(deps: FetcherAppDeps): Server {
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
  /** A problem response, and without the request logger, its log line (the only one for the request). */
  const fail = (
    res: ServerResponse,
    err: unknown,
    instance: string,
    req: IncomingMessage,
    requestId: string,
  ): void => {
    if (!res.headersSent && !res.hasHeader(REQUEST_ID_HEADER))
      res.setHeader(REQUEST_ID_HEADER, requestId);
    problem(res, err, instance, req);
    if (httpLogger !== undefined || res.statusCode < 400) return;
    const line = {
      reqId: res.getHeader(REQUEST_ID_HEADER),
      method: req.method,
      url: req.url,
      statusCode: res.statusCode,
      code: toProblem(err).code,
    };
    if (res.statusCode >= 500) log.error(line, 'request failed');
    else log.warn(line, 'request failed');
  };

  const handleFetch = async (
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    cancel: CancelHook,
  ): Promise<void> => {
    const envelope = parseFetchRequest(await readJson(req, deps.maxRequestBytes));
    const out = await deps.engine.fetch(envelope, { via: 'http', cancel, requestId });
    sendJson(res, 200, out, undefined, httpLogger === undefined ? requestId : undefined);
  };

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
  return createServer({ highWaterMark: STREAM_HIGH_WATER_MARK }, (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (deps.health.handle(req, res, path)) return;
    // POST /fetch, the hot path, gives its id with the reply's headers.
    const requestId = requestIdFor(req, res, path === '/fetch');
    if (deps.lifecycle?.isShuttingDown() === true) {
      res.setHeader(REQUEST_ID_HEADER, requestId);
      res.setHeader('connection', 'close');
      problem(
        res,
        netlabError('SHUTTING_DOWN', 'The fetcher is draining; try another instance.'),
        req.url ?? '/',
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
      if (!isFetcherError(err) && toProblem(err).code === 'INTERNAL')
        log.error({ err }, 'unexpected error');
      fail(res, err, path, req, requestId);
    });
  });
}
