import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config';
import type { FastRequest, FastResponse } from './fast-path';

export type { Logger } from 'pino';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Credentials never reach the logs, whichever way a header object was logged. */
export const REDACTED_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["proxy-authorization"]',
  'headers["set-cookie"]',
];

export interface LoggerOptions {
  /** The part's name, e.g. `static`; bound on every line as `service`. */
  service: string;
  /** This instance's name, e.g. `static-2`; bound as `instance`. */
  instance: string;
  level?: LogLevel;
  /** Human-readable output for a terminal; JSON otherwise. */
  pretty?: boolean;
  /** Where lines go; stdout by default. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
}

/** The one root logger of a process; everything else takes `logger.child({ component })`. */
export function createLogger(opts: LoggerOptions): Logger {
  const options: pino.LoggerOptions = {
    level: opts.level ?? 'info',
    base: { service: opts.service, instance: opts.instance, pid: process.pid },
    redact: { paths: [...REDACTED_PATHS], censor: CENSOR },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (opts.destination !== undefined) return pino(options, opts.destination);
  if (opts.pretty === true) {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' },
      },
    });
  }
  return pino(options);
}

/** A logger that writes nothing, for tests and for libraries used without one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

const VALID_REQUEST_ID = /^[\w.:@-]{1,128}$/;
// New ids are a per-process random prefix and a counter (`3f9a0c1be27d-1842`), as nginx and Go's
// chi make them, rather than a UUID per request (random bytes and formatting on every hot path).
const ID_PREFIX = randomBytes(6).toString('hex');
let idCounter = 0;

/**
 * The request id to use: the caller's `x-request-id` when it is a sane token (so a trace crosses
 * the gateway and the services), a new one otherwise (so no one can inject log lines).
 */
export function requestIdOf(headerValue: string | string[] | undefined): string {
  const value = Array.isArray(headerValue) ? headerValue[0] : headerValue;
  if (value !== undefined && VALID_REQUEST_ID.test(value)) return value;
  idCounter = idCounter === Number.MAX_SAFE_INTEGER ? 1 : idCounter + 1;
  return `${ID_PREFIX}-${idCounter}`;
}

/** A request logging middleware for Express or a plain `node:http` handler (`next` optional). */
export interface HttpLogger {
  (req: IncomingMessage, res: ServerResponse, next?: () => void): void;
  /** The logger lines are written with (`component: http`). */
  readonly logger: Logger;
  /**
   * The line of a request served on the fast path (shared/src/fast-path.ts), with the same fields
   * as node:http's: `started` is Date.now() when it came in; `completed` false when the caller
   * left before the reply was out.
   */
  fastLine(
    req: FastRequest,
    res: FastResponse,
    id: string,
    started: number,
    completed: boolean,
  ): void;
}

const CENSOR = '[redacted]';

/** The headers REDACTED_PATHS censors under `prefix` (`req.headers`: authorization, cookie...). */
function redactedHeaders(prefix: string): readonly string[] {
  return REDACTED_PATHS.filter((path) => path.startsWith(prefix)).map((path) =>
    path.slice(prefix.length).replace(/^\.|^\["|"\]$/g, ''),
  );
}
const REDACTED_REQUEST_HEADERS = redactedHeaders('req.headers');
const REDACTED_RESPONSE_HEADERS = redactedHeaders('res.headers');
const INFO_LEVEL = 30;
const WARN_LEVEL = 40;

/**
 * `headers` with `names` censored: a censored copy when one is there (`headers` may be the
 * request's own), else `headers` itself, as most requests carry no credentials.
 */
function redact(
  headers: Record<string, unknown>,
  names: readonly string[],
): Record<string, unknown> {
  let out = headers;
  for (const name of names) {
    if (!(name in headers)) continue;
    if (out === headers) out = { ...headers };
    out[name] = CENSOR;
  }
  return out;
}

/** What pino's request serializer reads: node:http's (or Express's) request, or a fast view. */
interface LoggableRequest {
  id?: unknown;
  method?: string | undefined;
  url?: string | undefined;
  originalUrl?: string;
  path?: unknown;
  query?: unknown;
  params?: unknown;
  headers: Record<string, unknown>;
  socket: { remoteAddress?: string | undefined; remotePort?: number | undefined } | null;
}

/** What pino's response serializer reads. */
interface LoggableResponse {
  readonly statusCode: number;
  readonly headersSent: boolean;
  getHeaders(): Record<string, unknown>;
}

/**
 * The `req` of a request line: pino-std-serializers' fields, in its order, with what
 * REDACTED_PATHS censors censored, so that the JSON is the same bytes pino writes.
 */
function requestFields(req: LoggableRequest): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    id: typeof req.id === 'function' ? (req.id as () => unknown)() : req.id || undefined,
    method: req.method,
    url: req.originalUrl || (typeof req.path === 'string' ? req.path : req.url || undefined),
  };
  if (req.query) fields.query = req.query;
  if (req.params) fields.params = req.params;
  fields.headers = redact(req.headers, REDACTED_REQUEST_HEADERS);
  const socket = req.socket;
  fields.remoteAddress = socket && socket.remoteAddress;
  fields.remotePort = socket && socket.remotePort;
  return fields;
}

/** The `res` of a request line, as pino-std-serializers gives it, censored. */
function responseFields(res: LoggableResponse): Record<string, unknown> {
  return {
    statusCode: res.headersSent ? res.statusCode : null,
    headers: redact(res.getHeaders(), REDACTED_RESPONSE_HEADERS),
  };
}

// Probes and scrapes (also under the static server's reserved /-/) would drown the lines that
// matter.
const UNLOGGED_PATH = /^\/(-\/)?(healthz|readyz|metrics)\b/;
const ERROR_LEVEL = 50;

/** Per-request state, on the request and the response under a symbol, so that the listeners
 * and the `log` getters are shared functions instead of closures made per request. */
const state = Symbol('netlab.httpLogger');
interface Logged {
  readonly log: Logger;
  readonly lines: RequestLines;
  readonly req: IncomingMessage;
  readonly started: number;
  done: boolean;
  child: Logger | undefined;
}
type LoggedResponse = ServerResponse & { [state]?: Logged; err?: unknown };

/** Writes one request line (`info`, `warn` for 4xx, `error` for 5xx or a failure). */
type RequestLines = (
  req: LoggableRequest,
  res: LoggableResponse,
  started: number,
  failure: unknown,
  completed: boolean,
) => void;

/**
 * The request lines of `log`. Lines with an `err` (5xx, failures) go through pino; the others,
 * almost all, are built here rather than by pino's generic serializers and redaction (half of a
 * line's cost): the fields are known, and so is what REDACTED_PATHS censors in them. The same
 * bytes as pino's (test/logger.test.ts), like the gateway's access log (DECISIONS.md #59, #66).
 */
function requestLines(log: Logger): RequestLines {
  const symbols = log as unknown as Record<symbol, unknown>;
  const bindings = symbols[pino.symbols.chindingsSym] as string;
  const stream = symbols[pino.symbols.streamSym] as DestinationStream;
  return (req, res, started, failure, completed) => {
    const status = res.statusCode;
    if (failure !== undefined || status >= 500) {
      if (!log.isLevelEnabled('error')) return;
      const error = failure ?? new Error(`failed with status code ${status}`);
      log.error({ req, res, err: error, responseTime: Date.now() - started }, 'request errored');
      return;
    }
    const level = status >= 400 ? WARN_LEVEL : INFO_LEVEL;
    if (log.levelVal > level) return;
    stream.write(
      `{"level":${level},"time":"${new Date().toISOString()}"${bindings},` +
        `"req":${JSON.stringify(requestFields(req))},"res":${JSON.stringify(responseFields(res))},` +
        `"responseTime":${Date.now() - started},` +
        `"msg":"${completed ? 'request completed' : 'request aborted'}"}\n`,
    );
  };
}

function finish(res: LoggedResponse, err: unknown): void {
  const s = res[state];
  if (s === undefined || s.done) return;
  s.done = true;
  res.off('finish', onFinish);
  res.off('close', onFinish);
  res.off('error', onError);
  const completed = !s.req.readableAborted && res.writableEnded;
  s.lines(s.req, res, s.started, err ?? res.err, completed);
}

function onFinish(this: LoggedResponse): void {
  finish(this, undefined);
}

function onError(this: LoggedResponse, err: unknown): void {
  finish(this, err);
}

/** `req.log` and `res.log` as pino-http gave them: one child bound to the request, made on first
 * use (making it up front is what made pino-http expensive). One descriptor for every request. */
const LAZY_LOG: PropertyDescriptor = {
  configurable: true,
  enumerable: false,
  get(this: { [state]: Logged }) {
    const s = this[state];
    s.child ??= s.log.child({ req: s.req });
    return s.child;
  },
  set(this: object, value: unknown) {
    Object.defineProperty(this, 'log', { value, writable: true, configurable: true });
  },
};

/**
 * The request logger: one line per response (`req`, `res`, `responseTime`, as pino-http writes
 * them; `warn` for 4xx, `error` for 5xx), with the request id taken from the request or generated
 * and echoed in the response header. It replaces pino-http, whose per-request child logger
 * serialized and redacted every request up front even when the level dropped its line (3–10 % of a
 * small request's CPU): here the line is built only when it is written, the listeners are shared
 * functions, and `req.log` is made on first use.
 */
export function createHttpLogger(logger: Logger): HttpLogger {
  const log = logger.child(
    { component: 'http' },
    {
      serializers: {
        req: pino.stdSerializers.req,
        res: pino.stdSerializers.res,
        err: pino.stdSerializers.err,
      },
    },
  );
  const lines = requestLines(log);
  const middleware = (req: IncomingMessage, res: ServerResponse, next?: () => void): void => {
    const withId = req as IncomingMessage & { id?: unknown };
    if (withId.id === undefined || withId.id === null || withId.id === '') {
      const id = requestIdOf(req.headers[REQUEST_ID_HEADER]);
      res.setHeader(REQUEST_ID_HEADER, id);
      withId.id = id;
    }
    const s: Logged = { log, lines, req, started: Date.now(), done: false, child: undefined };
    (req as IncomingMessage & { [state]?: Logged })[state] = s;
    (res as LoggedResponse)[state] = s;
    Object.defineProperty(req, 'log', LAZY_LOG);
    Object.defineProperty(res, 'log', LAZY_LOG);
    // Nothing is ever written above `error` (silent, fatal): no listeners at all.
    if (log.levelVal <= ERROR_LEVEL && !UNLOGGED_PATH.test(req.url ?? '')) {
      res.on('finish', onFinish);
      res.on('close', onFinish);
      res.on('error', onError);
    }
    if (next !== undefined) next();
  };
  const fastLine = (
    req: FastRequest,
    res: FastResponse,
    id: string,
    started: number,
    completed: boolean,
  ): void => {
    // What the request line reads of node:http's request and response, with the id the
    // middleware puts on them: on the response first, as its setHeader does.
    const view = { id, method: req.method, url: req.url, headers: req.headers, socket: req.socket };
    const resView = {
      statusCode: res.statusCode,
      headersSent: res.headersSent,
      getHeaders: () => ({ [REQUEST_ID_HEADER]: id, ...res.getHeaders() }),
    };
    lines(view, resView, started, undefined, completed);
  };
  return Object.assign(middleware, { logger: log, fastLine });
}
