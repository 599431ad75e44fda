import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@netlab/shared';
import { Cookie, type CookieJar } from 'tough-cookie';
import type { Dispatcher } from 'undici';
import type { AddressPolicy } from './address-policy';
import type { ConcurrencyLimiter } from './concurrency-limiter';
import type { DispatcherPool } from './dispatcher-pool';
import type { Resolve } from './dns-resolver';
import { fetcherError, isFetcherError, type FetcherError, type FetcherErrorCode } from './errors';
import { appendParams, toPairs } from './form-encoding';
import { DUMP_LIMIT, InlineExchange, type InlineBody, type OverCap } from './inline-exchange';
import type { FetcherMetrics } from './metrics';
import { prepareBody, type PreparedBody } from './request-body';
import type { FetchRequest, FetchResponse, HistoryEntry, ResponseHead } from './request-model';
import {
  bodyOut,
  decodeBody,
  decodeInline,
  mapBodyError,
  STREAM_HIGH_WATER_MARK,
  type BodyCaps,
  type BodySizes,
} from './response-body';
import { newCookieJar, type SessionStore, type SetCookieRecord } from './session-store';

/** The limits of the engine; each is a FETCH_* variable (config.ts). */
export interface EngineLimits {
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  readTimeoutMs: number;
  /** The whole inline fetch, and the most a request may ask for (FETCH_TOTAL_TIMEOUT). */
  totalTimeoutMs: number;
  /** The whole streamed fetch or download (FETCH_STREAM_TIMEOUT). */
  streamTimeoutMs: number;
  maxRedirects: number;
  /** Decoded body returned inside the envelope (FETCH_MAX_INLINE_BYTES). */
  maxInlineBytes: number;
  /** Body bytes on the wire, streams and downloads (FETCH_MAX_WIRE_BYTES). */
  maxWireBytes: number;
  /** Body bytes after decompression, streams and downloads (FETCH_MAX_DECODED_BYTES). */
  maxDecodedBytes: number;
  maxRetries: number;
  /** The longest single wait between retries, Retry-After included (FETCH_MAX_RETRY_WAIT). */
  maxRetryWaitMs: number;
}

export interface FetchEngineDeps {
  dispatchers: DispatcherPool;
  policy: AddressPolicy;
  resolve: Resolve;
  limiter: ConcurrencyLimiter;
  sessions: SessionStore;
  limits: EngineLimits;
  /** FETCH_FILES_DIR: uploads by path come from here only. */
  filesDir: string | undefined;
  userAgent: string;
  logger: Logger;
  metrics?: FetcherMetrics;
}

/** Which interface asked: labels metrics and picks the default deadline and body handling. */
export type Via = 'http' | 'stream' | 'nats' | 'download' | 'cli';

export interface OpenOptions {
  via: Via;
  /** Aborts the fetch when the caller goes away. */
  signal?: AbortSignal;
  /**
   * The same for a caller that holds no AbortSignal (HTTP): while the fetch runs the engine puts
   * its cancel function here, to be called when the caller goes away. An EventTarget listener per
   * fetch costs more than the rest of the bookkeeping together.
   */
  cancel?: CancelHook;
  requestId?: string;
  /** A smaller inline cap (NATS replies), with the code and variable to name when passed. */
  inlineCap?: { bytes: number; name: string; code: 'FETCH_TOO_LARGE_FOR_NATS' };
}

/** A running fetch, as its caller's hook sees it. */
export interface CallerGone {
  /** The caller went away: abort the fetch. */
  callerGone(): void;
}

/** Where the engine puts the running fetch while it runs (OpenOptions.cancel). */
export interface CancelHook {
  cancel: CallerGone | undefined;
}

/** The final response with its body still to be read (streams and downloads). */
export interface OpenedResponse extends ResponseHead {
  /** Decoded when `decoded`; read it to the end or destroy it. */
  body: Readable;
  decoded: boolean;
  sizes(): BodySizes;
  /** Resolves when the body is done: undefined, or the error that ended it. */
  finished: Promise<FetcherError | undefined>;
  session: string | undefined;
}

const EMPTY = Buffer.alloc(0);
const NO_NAMES: ReadonlySet<string> = new Set();
const NO_PAIRS: readonly (readonly [string, string])[] = [];
const NO_STRINGS: readonly string[] = [];

/** A fetch's body caps, and the error for a body past one. */
class FetchCaps implements BodyCaps, OverCap {
  constructor(
    readonly wire: number,
    readonly decoded: number,
    readonly tooLargeCode: BodyCaps['tooLargeCode'],
    readonly capName: string,
  ) {}

  overCap(what: string, cap: number, bytes: number): FetcherError {
    return fetcherError(
      this.tooLargeCode,
      `The body passed ${cap} bytes${what === '' ? '' : ` ${what}`} (${this.capName}); ${bytes} bytes read so far.`,
    );
  }
}

/**
 * What aborts a running fetch (its deadline, its caller leaving) and what it holds until it ends:
 * one object per fetch rather than half a dozen closures. It is the caller's abort listener too
 * (handleEvent) and its CancelHook entry.
 */
class FetchRun implements CallerGone {
  /** Made when something needs a signal (a queue wait, a retry's sleep, a streamed request). */
  controller: AbortController | undefined = undefined;
  abortReason: FetcherError | undefined = undefined;
  /** The inline request in flight, aborted directly (it listens to no signal). */
  exchange: InlineExchange | undefined = undefined;
  /** The limiter's slot. */
  release: (() => void) | undefined = undefined;
  /** The current hop's host, named when the deadline passes. */
  host: string;
  private readonly deadline: NodeJS.Timeout;

  constructor(
    private readonly opts: OpenOptions,
    host: string,
    readonly totalMs: number,
    readonly streaming: boolean,
  ) {
    this.host = host;
    // The deadline covers everything: the queue, connecting, redirects, retries, the body.
    this.deadline = setTimeout(onDeadline, totalMs, this);
    const signal = opts.signal;
    if (signal !== undefined) {
      if (signal.aborted) this.callerGone();
      signal.addEventListener('abort', this, { once: true });
    }
    if (opts.cancel !== undefined) opts.cancel.cancel = this;
  }

  signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    return this.controller.signal;
  }

  abort(reason: FetcherError): void {
    this.abortReason ??= reason;
    this.controller?.abort(reason);
    this.exchange?.abort(reason);
  }

  callerGone(): void {
    this.abort(fetcherError('FETCH_CLIENT_CLOSED', 'The caller went away.'));
  }

  /** The caller's AbortSignal fired. */
  handleEvent(): void {
    this.callerGone();
  }

  /** The fetch is over: no deadline, no caller hooks, the limiter's slot back. */
  finish(): void {
    clearTimeout(this.deadline);
    this.opts.signal?.removeEventListener('abort', this);
    if (this.opts.cancel !== undefined) this.opts.cancel.cancel = undefined;
    const release = this.release;
    this.release = undefined;
    release?.();
  }
}

function onDeadline(run: FetchRun): void {
  run.abort(
    fetcherError(
      'FETCH_DEADLINE_EXCEEDED',
      `The fetch of ${run.host} did not finish within ${run.totalMs} ms (timeout.total, ${run.streaming ? 'FETCH_STREAM_TIMEOUT' : 'FETCH_TOTAL_TIMEOUT'}).`,
    ),
  );
}

/** The response to one request, its body still to be read or dropped. */
interface Upstream {
  statusCode: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  /** The body as a stream: streams and downloads. */
  body: Dispatcher.ResponseData['body'] | undefined;
  /** The exchange holding the body: inline fetches. */
  inline: InlineExchange | undefined;
}

/** Drops a body that is not wanted (a redirect's, a retried response's), reading to its end. */
function dumpBody(res: Upstream): Promise<void> {
  if (res.inline !== undefined) return res.inline.dump();
  return res.body!.dump().catch(() => undefined);
}

export interface FetchEngine {
  /** The whole fetch, body inline in the envelope (HTTP `POST /fetch`, NATS). */
  fetch(req: FetchRequest, opts: OpenOptions): Promise<FetchResponse>;
  /** Up to the final response's headers; the body streams (HTTP `/fetch/stream`, downloads). */
  open(req: FetchRequest, opts: OpenOptions): Promise<OpenedResponse>;
  close(): Promise<void>;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const DEFAULT_RETRY_STATUSES = [429, 502, 503, 504];
// urllib3's RETRY_AFTER_STATUS_CODES
const RETRY_AFTER_STATUSES = new Set([413, 429, 503]);
// The request was never sent: retrying is safe whatever the method (as urllib3 does).
const NOT_SENT: ReadonlySet<FetcherErrorCode> = new Set([
  'FETCH_DNS_FAILED',
  'FETCH_CONNECT_FAILED',
  'FETCH_CONNECT_TIMEOUT',
]);
const MAYBE_SENT: ReadonlySet<FetcherErrorCode> = new Set([
  'FETCH_UPSTREAM_ERROR',
  'FETCH_HEADERS_TIMEOUT',
  'FETCH_PROXY_ERROR',
]);

interface Timeouts {
  connectMs: number;
  headersMs: number;
  readMs: number;
  totalMs: number;
}

interface RetryPolicy {
  total: number;
  backoffFactorS: number;
  statuses: ReadonlySet<number>;
  allowNonIdempotent: boolean;
  respectRetryAfter: boolean;
}

const ms = (s: number): number => Math.max(1, Math.round(s * 1000));

function resolveTimeouts(t: FetchRequest['timeout'], limits: EngineLimits, via: Via): Timeouts {
  const long = via === 'stream' || via === 'download' || via === 'cli';
  const totalLimit = long ? limits.streamTimeoutMs : limits.totalTimeoutMs;
  const out: Timeouts = {
    connectMs: limits.connectTimeoutMs,
    headersMs: limits.headersTimeoutMs,
    readMs: limits.readTimeoutMs,
    totalMs: totalLimit,
  };
  if (typeof t === 'number') {
    // requests' timeout=5: five seconds to connect and five between bytes.
    out.connectMs = out.headersMs = out.readMs = ms(t);
  } else if (t !== undefined) {
    if (t.connect !== undefined) out.connectMs = ms(t.connect);
    if (t.headers !== undefined) out.headersMs = ms(t.headers);
    if (t.read !== undefined) out.readMs = ms(t.read);
    if (t.total !== undefined) {
      if (ms(t.total) > totalLimit) {
        throw fetcherError(
          'FETCH_INVALID_REQUEST',
          `timeout.total ${t.total}s is above the limit of ${totalLimit / 1000}s (${long ? 'FETCH_STREAM_TIMEOUT' : 'FETCH_TOTAL_TIMEOUT'}).`,
        );
      }
      out.totalMs = ms(t.total);
    }
  }
  return out;
}

const NO_RETRIES: RetryPolicy = {
  total: 0,
  backoffFactorS: 0.25,
  statuses: new Set(DEFAULT_RETRY_STATUSES),
  allowNonIdempotent: false,
  respectRetryAfter: true,
};

function resolveRetries(r: FetchRequest['retries'], limits: EngineLimits): RetryPolicy {
  if (r === undefined || r === 0) return NO_RETRIES;
  const spec = typeof r === 'number' ? { total: r } : (r ?? { total: 0 });
  if (spec.total > limits.maxRetries) {
    throw fetcherError(
      'FETCH_INVALID_REQUEST',
      `retries ${spec.total} is above FETCH_MAX_RETRIES=${limits.maxRetries}.`,
    );
  }
  return {
    total: spec.total,
    backoffFactorS:
      'backoffFactor' in spec && spec.backoffFactor !== undefined ? spec.backoffFactor : 0.25,
    statuses: new Set(
      'statuses' in spec && spec.statuses !== undefined ? spec.statuses : DEFAULT_RETRY_STATUSES,
    ),
    allowNonIdempotent: 'allowNonIdempotent' in spec && spec.allowNonIdempotent === true,
    respectRetryAfter: !('respectRetryAfter' in spec) || spec.respectRetryAfter !== false,
  };
}

/** Seconds from a Retry-After header (delay-seconds or an HTTP-date, RFC 9110 §10.2.3). */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now = Date.now(),
): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** requests' should_strip_auth: another host, or another scheme/port except http→https. */
export function crossesOrigin(from: URL, to: URL): boolean {
  if (from.hostname !== to.hostname) return true;
  if (from.protocol === 'http:' && from.port === '' && to.protocol === 'https:' && to.port === '') {
    return false;
  }
  return from.protocol !== to.protocol || from.port !== to.port;
}

/** Maps what undici throws from a request onto fetcher errors. */
export function mapRequestError(err: unknown, abortReason?: FetcherError): FetcherError {
  if (abortReason !== undefined) return abortReason;
  if (isFetcherError(err)) return err;
  const e = err as { code?: string; message?: string; cause?: unknown };
  const code = e.code ?? '';
  const message = e.message ?? String(err);
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return fetcherError('FETCH_CONNECT_TIMEOUT', `Connecting timed out: ${message}`, {
      cause: err,
    });
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return fetcherError(
      'FETCH_HEADERS_TIMEOUT',
      'The upstream sent no response headers within the headers timeout.',
      { cause: err },
    );
  }
  if (code === 'UND_ERR_BODY_TIMEOUT') {
    return fetcherError('FETCH_READ_TIMEOUT', 'The upstream paused longer than the read timeout.', {
      cause: err,
    });
  }
  if (code === 'UND_ERR_PRX_TLS' || code === 'UND_ERR_PRX_CONN' || /proxy/i.test(message)) {
    return fetcherError('FETCH_PROXY_ERROR', message, { cause: err });
  }
  if (
    ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EHOSTDOWN'].includes(code)
  ) {
    return fetcherError('FETCH_CONNECT_FAILED', `Could not connect: ${code}.`, { cause: err });
  }
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_/.test(code) || /certificate|ssl|tls/i.test(message)) {
    return fetcherError('FETCH_TLS_ERROR', `TLS failed: ${message}`, { cause: err });
  }
  if (code === 'UND_ERR_INVALID_ARG') {
    return fetcherError('FETCH_INVALID_REQUEST', message, { cause: err });
  }
  return fetcherError(
    'FETCH_UPSTREAM_ERROR',
    `The upstream failed: ${message}${code === '' ? '' : ` (${code})`}.`,
    { cause: err },
  );
}

function parseUrl(text: string, base?: URL): URL {
  let url: URL;
  try {
    url = base === undefined ? new URL(text) : new URL(text, base);
  } catch {
    throw fetcherError(
      'FETCH_INVALID_REQUEST',
      `Not a valid URL: ${JSON.stringify(text.slice(0, 200))}.`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw fetcherError(
      'FETCH_SCHEME_DENIED',
      `${url.protocol} URLs are not fetched (only http: and https:).`,
    );
  }
  return url;
}

function proxyFor(req: FetchRequest, url: URL): URL | undefined {
  const p = req.proxy;
  const text = typeof p === 'string' ? p : url.protocol === 'https:' ? p?.https : p?.http;
  if (text === undefined) return undefined;
  let proxy: URL;
  try {
    proxy = new URL(text);
  } catch {
    throw fetcherError(
      'FETCH_INVALID_REQUEST',
      `proxy is not a valid URL: ${JSON.stringify(text)}.`,
    );
  }
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    throw fetcherError(
      'FETCH_INVALID_REQUEST',
      `proxy must be http:// or https:// (not ${proxy.protocol}).`,
    );
  }
  return proxy;
}

/** Redirect Location values arrive as latin1 text; UTF-8 sent raw is recovered as requests does. */
function locationOf(v: string | string[] | undefined): string | undefined {
  const text = Array.isArray(v) ? v[0] : v;
  if (text === undefined) return undefined;
  const utf8 = Buffer.from(text, 'latin1').toString('utf8');
  return utf8.includes('\uFFFD') ? text : utf8;
}

function cookieValues(setCookies: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const header of setCookies) {
    const c = Cookie.parse(header, { loose: true });
    // An expired cookie (Max-Age=0, a past Expires) deletes rather than sets, as r.cookies shows.
    if (c !== undefined && c.TTL() > 0) out[c.key] = c.value;
  }
  return out;
}

/** Drops a body unread; the connection goes with it (cheaper than reading what we refuse). */
function discard(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

/**
 * Response headers as undici gives them (its own fresh object, changed in place: no copy), with
 * Set-Cookie always a list, as node:http does.
 */
function normalizeHeaders(
  h: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const cookie = h['set-cookie'];
  if (typeof cookie === 'string') h['set-cookie'] = [cookie];
  for (const k in h) if (h[k] === undefined) delete h[k];
  return h as Record<string, string | string[]>;
}

function setCookieList(v: string | string[] | undefined): readonly string[] {
  if (v === undefined) return NO_STRINGS;
  return Array.isArray(v) ? v : [v];
}

export function createFetchEngine(deps: FetchEngineDeps): FetchEngine {
  const { limits, metrics } = deps;
  const log = deps.logger.child({ component: 'engine' });
  const INLINE_TIMEOUTS: Readonly<Timeouts> = resolveTimeouts(undefined, limits, 'http');
  const LONG_TIMEOUTS: Readonly<Timeouts> = resolveTimeouts(undefined, limits, 'stream');

  // `inline` (fetch) collects the body here through an InlineExchange (no stream per request);
  // otherwise undici's request() gives the body as a stream to pass on.
  async function open(req: FetchRequest, opts: OpenOptions, inline: true): Promise<FetchResponse>;
  async function open(req: FetchRequest, opts: OpenOptions, inline: false): Promise<OpenedResponse>;
  async function open(
    req: FetchRequest,
    opts: OpenOptions,
    inline: boolean,
  ): Promise<OpenedResponse | FetchResponse> {
    const startedAt = performance.now();
    let url = parseUrl(req.url);
    if (req.params !== undefined) appendParams(url, toPairs(req.params));
    // Most fetches name no timeout: the defaults are made once.
    const timeouts =
      req.timeout === undefined
        ? opts.via === 'stream' || opts.via === 'download' || opts.via === 'cli'
          ? LONG_TIMEOUTS
          : INLINE_TIMEOUTS
        : resolveTimeouts(req.timeout, limits, opts.via);
    const retry = resolveRetries(req.retries, limits);
    const maxRedirects = req.maxRedirects ?? limits.maxRedirects;
    if (maxRedirects > limits.maxRedirects) {
      throw fetcherError(
        'FETCH_INVALID_REQUEST',
        `maxRedirects ${maxRedirects} is above FETCH_MAX_REDIRECTS=${limits.maxRedirects}.`,
      );
    }
    const streaming = opts.via === 'stream' || opts.via === 'download' || opts.via === 'cli';
    const decode = req.response?.decode ?? opts.via !== 'stream';
    const inlineCap = opts.inlineCap?.bytes ?? limits.maxInlineBytes;
    const requestedCap = req.response?.maxBytes;
    const decodedCap = Math.min(
      streaming ? limits.maxDecodedBytes : inlineCap,
      requestedCap ?? Infinity,
    );
    const wireCap = Math.min(
      limits.maxWireBytes,
      streaming ? Infinity : Math.max(decodedCap, inlineCap),
    );
    const tooLargeCode = opts.inlineCap?.code ?? 'FETCH_RESPONSE_TOO_LARGE';
    const capName =
      requestedCap !== undefined && requestedCap <= decodedCap
        ? 'response.maxBytes'
        : (opts.inlineCap?.name ??
          (streaming ? 'FETCH_MAX_DECODED_BYTES' : 'FETCH_MAX_INLINE_BYTES'));

    const caps = new FetchCaps(wireCap, decodedCap, tooLargeCode, capName);

    // Credentials from the URL become basic auth, as in requests; they never go on the wire as is.
    let authHeader: string | undefined;
    if (url.username !== '' || url.password !== '') {
      const user = decodeURIComponent(url.username);
      const pass = decodeURIComponent(url.password);
      authHeader = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    if (req.auth !== undefined) {
      authHeader =
        req.auth.type === 'basic'
          ? `Basic ${Buffer.from(`${req.auth.username}:${req.auth.password}`).toString('base64')}`
          : `Bearer ${req.auth.token}`;
    }
    // Most fetches name no header and no cookie: shared empty lists then, nothing to search.
    const userHeaders: readonly (readonly [string, string])[] =
      req.headers === undefined
        ? NO_PAIRS
        : Array.isArray(req.headers)
          ? req.headers
          : Object.entries(req.headers);
    let authHeaderFromUser: string | undefined;
    let userCookieHeader: string | undefined;
    for (const [k, v] of userHeaders) {
      const lower = k.toLowerCase();
      if (authHeaderFromUser === undefined && lower === 'authorization') authHeaderFromUser = v;
      else if (userCookieHeader === undefined && lower === 'cookie') userCookieHeader = v;
    }
    if (authHeaderFromUser !== undefined) authHeader = authHeaderFromUser;
    const explicitCookies: readonly (readonly [string, string])[] =
      req.cookies === undefined ? NO_PAIRS : Object.entries(req.cookies);

    const run = new FetchRun(opts, url.host, timeouts.totalMs, streaming);

    try {
      run.release =
        deps.limiter.tryAcquire(url.host) ?? (await deps.limiter.acquire(url.host, run.signal()));
      // Made on the first Set-Cookie: most fetches never need one.
      let jar: CookieJar | undefined;
      try {
        jar = req.session === undefined ? undefined : await deps.sessions.load(req.session);
      } catch (err) {
        throw isFetcherError(err)
          ? err
          : fetcherError(
              'FETCH_SESSION_UNAVAILABLE',
              `Loading session ${req.session} failed: ${(err as Error).message}`,
              { cause: err },
            );
      }
      // Only a session keeps what each hop set.
      const received: SetCookieRecord[] | undefined = req.session === undefined ? undefined : [];
      const hasBody =
        (req.json !== undefined && req.json !== null) ||
        req.data !== undefined ||
        req.bodyBase64 !== undefined ||
        req.files !== undefined;
      let body: PreparedBody | undefined = hasBody
        ? await prepareBody(req, deps.filesDir)
        : undefined;
      let method = req.method;
      let dropCredentials = false;
      let dropBodyHeaders = false;
      const history: HistoryEntry[] = [];
      let retries = 0;

      for (;;) {
        const proxy = proxyFor(req, url);
        if (proxy !== undefined) await checkProxiedTarget(url);
        const dispatcher = deps.dispatchers.get({
          verify: req.tls?.verify ?? true,
          ca: req.tls?.ca,
          proxy,
          connectTimeoutMs: timeouts.connectMs,
        });
        const headers = buildHeaders(url, jar, body, {
          userHeaders,
          authHeader: dropCredentials ? undefined : authHeader,
          userCookieHeader: history.length > 0 ? undefined : userCookieHeader,
          explicitCookies: dropCredentials ? NO_PAIRS : explicitCookies,
          dropHost: dropCredentials,
          dropBodyHeaders,
          decode,
        });

        let res: Upstream | undefined;
        let sentAt = 0;
        for (let attempt = 0; ; attempt++) {
          sentAt = performance.now();
          try {
            const options: Dispatcher.DispatchOptions = {
              origin: url.origin,
              path: url.pathname + url.search,
              method,
              headers,
              body: body?.make() ?? null,
              headersTimeout: timeouts.headersMs,
              bodyTimeout: timeouts.readMs,
              idempotent: IDEMPOTENT.has(method),
            };
            if (inline) {
              if (run.abortReason !== undefined) throw run.abortReason;
              // Chunks that come with the headers are held until the engine decides (redirect,
              // retry or keep); collect() applies the real cap.
              const exchange = new InlineExchange(
                Math.max(wireCap, DUMP_LIMIT),
                caps,
                wireCap,
                'on the wire',
                options.body,
              );
              run.exchange = exchange;
              dispatcher.dispatch(options, exchange);
              const ex = await exchange.response;
              res = {
                statusCode: ex.statusCode,
                statusText: ex.statusText,
                headers: ex.headers,
                body: undefined,
                inline: ex,
              };
            } else {
              const r = await dispatcher.request({
                ...options,
                signal: run.signal(),
                highWaterMark: STREAM_HIGH_WATER_MARK,
              });
              res = {
                statusCode: r.statusCode,
                statusText: r.statusText,
                headers: r.headers,
                body: r.body,
                inline: undefined,
              };
            }
          } catch (err) {
            const mapped = mapRequestError(err, run.abortReason);
            const mayRetry =
              retries < retry.total &&
              (NOT_SENT.has(mapped.code) ||
                (MAYBE_SENT.has(mapped.code) &&
                  (IDEMPOTENT.has(method) || retry.allowNonIdempotent)));
            if (!mayRetry) throw mapped;
            retries += 1;
            metrics?.retries.inc();
            log.debug({ code: mapped.code, attempt, url: url.origin }, 'retrying after an error');
            await sleep(backoffMs(retry, attempt), undefined, { signal: run.signal() }).catch(
              () => {
                throw mapRequestError(
                  new Error('the wait before a retry was cut short'),
                  run.abortReason,
                );
              },
            );
            continue;
          }
          if (
            retries < retry.total &&
            retry.statuses.has(res.statusCode) &&
            (IDEMPOTENT.has(method) || retry.allowNonIdempotent)
          ) {
            const after =
              retry.respectRetryAfter && RETRY_AFTER_STATUSES.has(res.statusCode)
                ? parseRetryAfter(res.headers['retry-after'])
                : undefined;
            const waitMs = after !== undefined ? after * 1000 : backoffMs(retry, attempt);
            // A wait past the cap or the deadline is not worth it: the caller gets the response.
            if (
              waitMs <= limits.maxRetryWaitMs &&
              performance.now() - startedAt + waitMs < timeouts.totalMs
            ) {
              await dumpBody(res);
              retries += 1;
              metrics?.retries.inc();
              await sleep(waitMs, undefined, { signal: run.signal() }).catch(() => {
                throw mapRequestError(
                  new Error('the wait before a retry was cut short'),
                  run.abortReason,
                );
              });
              continue;
            }
          }
          break;
        }

        const setCookies = setCookieList(res.headers['set-cookie']);
        for (const header of setCookies) {
          jar ??= newCookieJar();
          jar.setCookieSync(header, url.href, { ignoreError: true });
          received?.push({ url: url.href, header });
        }

        const location = locationOf(res.headers.location);
        if (req.allowRedirects && REDIRECTS.has(res.statusCode) && location !== undefined) {
          await dumpBody(res);
          if (history.length >= maxRedirects) {
            throw fetcherError(
              'FETCH_TOO_MANY_REDIRECTS',
              `Exceeded ${maxRedirects} redirects (maxRedirects, FETCH_MAX_REDIRECTS); the last went to ${location.slice(0, 200)}.`,
            );
          }
          history.push({
            status: res.statusCode,
            reason: res.statusText ?? '',
            url: url.href,
            headers: normalizeHeaders(res.headers),
          });
          metrics?.redirects.inc();
          // A protocol-relative Location resolves against the current URL like any other.
          const next = parseUrl(location, url);
          // RFC 9110 §10.2.2: a Location without a fragment inherits the request's.
          if (next.hash === '' && url.hash !== '') next.hash = url.hash;
          if (crossesOrigin(url, next)) dropCredentials = true;
          const status = res.statusCode;
          if ((status === 303 || status === 302) && method !== 'HEAD') method = 'GET';
          if (status === 301 && method === 'POST') method = 'GET';
          if (status !== 307 && status !== 308) {
            body = undefined;
            dropBodyHeaders = true;
          }
          url = next;
          run.host = url.host;
          continue;
        }

        if (req.session !== undefined) {
          try {
            await deps.sessions.save(req.session, received!);
          } catch (err) {
            await dumpBody(res);
            throw isFetcherError(err)
              ? err
              : fetcherError(
                  'FETCH_SESSION_UNAVAILABLE',
                  `Saving session ${req.session} failed: ${(err as Error).message}`,
                  { cause: err },
                );
          }
        }

        const contentLength = Number(headerText(res.headers['content-length']) ?? NaN);
        const encoding = headerText(res.headers['content-encoding']);
        const identity =
          encoding === undefined || encoding.trim().toLowerCase() === 'identity' || !decode;
        // Refuse before reading a byte when the length is announced and already too big.
        if (
          Number.isFinite(contentLength) &&
          (contentLength > wireCap || (identity && contentLength > decodedCap))
        ) {
          if (res.inline !== undefined) res.inline.drop();
          else discard(res.body!);
          const cap = contentLength > wireCap ? wireCap : decodedCap;
          throw fetcherError(
            tooLargeCode,
            `The body is ${contentLength} bytes (Content-Length), above ${cap} (${capName}).`,
          );
        }
        const elapsedMs = performance.now() - sentAt;
        const resHeaders = normalizeHeaders(res.headers);
        const cookies = cookieValues(setCookies);
        if (inline) {
          const keep = req.response?.as !== 'none' && method !== 'HEAD';
          let bytes: Buffer;
          let sizes: BodySizes;
          const ex = res.inline!;
          if (identity) {
            const cap = Math.min(wireCap, decodedCap);
            let read: InlineBody | undefined;
            try {
              read = ex.collectNow(keep, cap, '') ?? (await ex.collect(keep, cap, ''));
            } catch (err) {
              throw mapBodyError(err);
            }
            bytes = read.bytes;
            sizes = { wire: read.size, decoded: read.size };
          } else {
            const wire = await ex.collect(true, wireCap, 'on the wire').catch((err: unknown) => {
              throw mapBodyError(err);
            });
            const decoded = await decodeInline(wire.bytes, encoding, caps);
            bytes = keep ? decoded.bytes : EMPTY;
            sizes = { wire: wire.size, decoded: decoded.bytes.length };
          }
          run.finish();
          metrics?.bodyBytes(sizes.wire, sizes.decoded);
          // The reply envelope itself, built once (no intermediate response to copy from).
          const as = req.response?.as ?? 'auto';
          const out: FetchResponse = {
            ok: res.statusCode < 400,
            status: res.statusCode,
            reason: res.statusText ?? '',
            url: url.href,
            method,
            history,
            headers: resHeaders,
            cookies,
            elapsedMs: round(elapsedMs),
            totalMs: round(performance.now() - startedAt),
            retries,
            body:
              as === 'none'
                ? { as: 'none' }
                : bodyOut(
                    bytes,
                    headerText(resHeaders['content-type']),
                    as,
                    req.response?.encoding,
                  ),
            sizes,
          };
          if (req.session !== undefined) out.session = req.session;
          return out;
        }
        const decoded = decodeBody(res.body!, encoding, decode, caps);
        void decoded.finished.then((err) => {
          run.finish();
          const sizes = decoded.sizes();
          metrics?.bodyBytes(sizes.wire, sizes.decoded);
          if (err !== undefined)
            log.debug({ code: err.code, url: url.origin }, 'body ended with an error');
        });
        return {
          status: res.statusCode,
          reason: res.statusText ?? '',
          url: url.href,
          method,
          history,
          headers: resHeaders,
          cookies,
          elapsedMs,
          retries,
          session: req.session,
          body: decoded.body,
          decoded: decoded.decoded,
          sizes: () => decoded.sizes(),
          finished: decoded.finished,
        };
      }
    } catch (err) {
      run.finish();
      throw mapRequestError(err, run.abortReason);
    }
  }

  /** Through a proxy the proxy dials the target: check the target's addresses ourselves. */
  const checkProxiedTarget = async (url: URL): Promise<void> => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    for (const { address } of await deps.resolve(host)) {
      const verdict = deps.policy.check(host, address, port);
      if (!verdict.allowed) {
        metrics?.denied.inc({ range: verdict.range });
        throw fetcherError(
          'FETCH_DESTINATION_DENIED',
          `${isIP(host) === 0 ? `${host} resolves to ${address}, which` : address} is ${verdict.range} and not in FETCH_ALLOW (port ${port}).`,
        );
      }
    }
  };

  const buildHeaders = (
    url: URL,
    jar: CookieJar | undefined,
    body: PreparedBody | undefined,
    o: {
      userHeaders: readonly (readonly [string, string])[];
      authHeader: string | undefined;
      userCookieHeader: string | undefined;
      explicitCookies: readonly (readonly [string, string])[];
      dropHost: boolean;
      dropBodyHeaders: boolean;
      decode: boolean;
    },
  ): string[] => {
    const out: string[] = [];
    // Most fetches name no header of their own: no set to fill then.
    const has = o.userHeaders.length === 0 ? NO_NAMES : new Set<string>();
    for (const [k, v] of o.userHeaders) {
      const lower = k.toLowerCase();
      if (lower === 'authorization' || lower === 'cookie') continue;
      if (lower === 'host' && o.dropHost) continue;
      if (o.dropBodyHeaders && lower === 'content-type') continue;
      out.push(k, v);
      (has as Set<string>).add(lower);
    }
    if (!has.has('user-agent')) out.push('user-agent', deps.userAgent);
    // A stream passes the body through as is: only ask for compression we will undo.
    if (!has.has('accept-encoding') && o.decode)
      out.push('accept-encoding', 'gzip, deflate, br, zstd');
    if (!has.has('accept')) out.push('accept', '*/*');
    if (o.authHeader !== undefined) out.push('authorization', o.authHeader);
    let cookie = o.userCookieHeader;
    if (cookie === undefined && (jar !== undefined || o.explicitCookies.length > 0)) {
      const explicitNames = new Set(o.explicitCookies.map(([k]) => k));
      const parts = (jar?.getCookiesSync(url.href) ?? [])
        .filter((c) => !explicitNames.has(c.key))
        .map((c) => c.cookieString());
      for (const [k, v] of o.explicitCookies) parts.push(`${k}=${v}`);
      if (parts.length > 0) cookie = parts.join('; ');
    }
    if (cookie !== undefined) out.push('cookie', cookie);
    if (body !== undefined) {
      if (body.contentType !== undefined && !has.has('content-type'))
        out.push('content-type', body.contentType);
      out.push('content-length', String(body.length));
    }
    return out;
  };

  const outcomeOf = (err: unknown): string => (isFetcherError(err) ? err.code : 'INTERNAL');
  /** A fetch, counted in the metrics by its outcome and duration. */
  const measured = async <T>(via: Via, run: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    let outcome = 'ok';
    try {
      return await run();
    } catch (err) {
      outcome = outcomeOf(err);
      throw err;
    } finally {
      metrics?.fetched(via, outcome, (performance.now() - started) / 1000);
    }
  };

  return {
    fetch: (req, opts) => measured(opts.via, () => open(req, opts, true)),
    open: (req, opts) => measured(opts.via, () => open(req, opts, false)),
    close: () => deps.dispatchers.close(),
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** factor × 2^attempt seconds, jittered to [0.5, 1.5) of it so that retries do not stampede. */
function backoffMs(retry: RetryPolicy, attempt: number): number {
  const base = retry.backoffFactorS * 1000 * 2 ** attempt;
  return Math.round(base * (0.5 + Math.random()));
}
