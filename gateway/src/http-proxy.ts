import { IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ClientRequest, ClientResponse, FastHandler, Logger } from '@netlab/shared';
import { loggerAccessSink, type AccessSink } from './access-log';
import { BodyReader, CLIENT_BODY_ABORTED } from './body-reader';
import { exemptFromIdleSweep } from './client-idle-sweep';
import type { GatewaySettings } from './config';
import { gatewayError, GatewayError, type GatewayErrorCode } from './errors';
import type { GatewayMetrics, RejectReason, RouteSeries } from './metrics';
import { normalizePath } from './normalize-path';
import { sendGatewayProblem, type ProblemContext } from './problem';
import {
  addForwardingHeaders,
  clientAddress,
  connectionTokens,
  inspectRequest,
  isHopByHop,
  peerAddress,
  type ProxyTrust,
  type RequestFacts,
} from './request-headers';
import { upstreamPath, type Route, type Router } from './routes';
import type { FailureKind, Instance, UpstreamRegistry } from './upstream-registry';
import type { TrafficRecorder } from './dashboard/dashboard';
import type { StartupGate } from './startup-gate';
import type { RequestControl, ResponseHandler, UpstreamRequest } from './upstream-pool';

/** Holds the live route table; KV updates swap `current`. */
export interface RouteStore {
  current: Router;
}

export interface HttpProxyDeps {
  settings: GatewaySettings;
  routes: RouteStore;
  upstreams: UpstreamRegistry;
  metrics: GatewayMetrics;
  logger: Logger;
  trust: ProxyTrust;
  /** Serves `/-/…`. */
  admin: (req: IncomingMessage, res: ServerResponse, path: string) => void;
  /** Where access lines go; a child of `logger` when omitted. */
  accessLog?: AccessSink | undefined;
  /** Counts a request as in-flight work (the lifecycle's, for `netlab status`); call the result when done. */
  beginWork?: (() => () => void) | undefined;
  /** The dashboard's per-second rings: one O(1) call per finished request. */
  traffic?: TrafficRecorder | undefined;
  /** Holds requests while the gateway starts and knows no instance yet. */
  startup?: StartupGate | undefined;
}

/** What a request looks like once it is known where it goes (shared with the upgrade path). */
export interface ResolvedRequest {
  route: Route;
  facts: RequestFacts;
  path: string;
  query: string;
  host: string | undefined;
  peer: string;
  trusted: boolean;
}

export interface Rejection {
  ok: false;
  admin?: undefined;
  error: GatewayError;
  reason: RejectReason;
  ctx: ProblemContext;
  route?: Route | undefined;
}

export type Resolution =
  { ok: true; value: ResolvedRequest } | { ok: false; admin: string } | Rejection;

/**
 * Set on a client socket once the gateway answered with `Connection: close` because it no longer
 * trusts the framing (a malformed request, an unread body): pipelined requests that Node parsed
 * behind it must not reach an upstream.
 */
const CLOSING = Symbol('netlab.closing');
type ClosingSocket = Socket & { [CLOSING]?: true };

function markClosing(req: ClientRequest): void {
  (req.socket as ClosingSocket)[CLOSING] = true;
}

/**
 * A body may still be on its way: answering now means closing the connection, or its bytes would
 * be read as the next request. A request without Content-Length or Transfer-Encoding has none
 * (RFC 9112 §6.3), even while node:http has not marked it complete yet.
 */
function bodyUnread(req: ClientRequest): boolean {
  if (req.complete) return false;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'transfer-encoding') return true;
    if (name === 'content-length' && raw[i + 1]!.trim() !== '0') return true;
  }
  return false;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const CLIENT_GONE = new Error('the client closed the connection');
const STREAM_DRAINED = new Error('the gateway is shutting down');
/** nginx's convention for "client closed request" in logs and metrics. */
const STATUS_CLIENT_CLOSED = 499;

function reject(
  code: GatewayErrorCode,
  detail: string,
  reason: RejectReason,
  ctx: ProblemContext = {},
  route?: Route,
): Rejection {
  return { ok: false, error: gatewayError(code, detail), reason, ctx, route };
}

function hostnameOf(host: string | undefined): string {
  if (host === undefined) return '';
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1).toLowerCase();
  const colon = host.indexOf(':');
  return (colon < 0 ? host : host.slice(0, colon)).toLowerCase();
}

/**
 * Everything before picking an instance: target form, path normalisation, header checks, route,
 * rate limit and the declared body size. Shared by plain requests and upgrades.
 */
export function resolveRequest(
  req: ClientRequest,
  deps: Pick<HttpProxyDeps, 'settings' | 'routes' | 'trust'>,
  isUpgrade: boolean,
  nowMs: number,
): Resolution {
  const url = req.url ?? '/';
  let rawPath: string;
  let query = '';
  let hostOverride: string | undefined;
  if (url.charCodeAt(0) === 0x2f) {
    const q = url.indexOf('?');
    rawPath = q < 0 ? url : url.slice(0, q);
    if (q >= 0) query = url.slice(q);
  } else if (/^https?:\/\//i.test(url) && URL.canParse(url)) {
    // RFC 9112 §3.2.2: absolute-form; its authority replaces the Host header.
    const u = new URL(url);
    rawPath = u.pathname;
    query = u.search;
    hostOverride = u.host;
  } else {
    return reject('GATEWAY_BAD_PATH', 'The request target must be a path.', 'bad_path');
  }
  if (url.includes('#')) {
    return reject('GATEWAY_BAD_PATH', 'A request target has no fragment.', 'bad_path');
  }
  const path = normalizePath(rawPath);
  if (path === undefined) {
    return reject(
      'GATEWAY_BAD_PATH',
      'The path has a malformed escape, an encoded slash, backslash or control character.',
      'bad_path',
    );
  }
  if (path.startsWith('/-/')) return { ok: false, admin: path };
  const facts = inspectRequest(req, deps.settings.maxHeaders, isUpgrade);
  if (facts instanceof GatewayError) {
    const reason: RejectReason =
      facts.code === 'GATEWAY_HEADERS_TOO_LARGE' ? 'too_many_headers' : 'bad_request';
    return { ok: false, error: facts, reason, ctx: { close: true } };
  }
  const ctx: ProblemContext = { requestId: facts.requestId };
  const host = hostOverride ?? facts.host;
  const router = deps.routes.current;
  const route = router.match(path, req.method ?? 'GET', router.usesHost ? hostnameOf(host) : '');
  if (route === undefined) {
    return reject('GATEWAY_NO_ROUTE', `No route for ${req.method} ${path}.`, 'no_route', ctx);
  }
  ctx.route = route.name;
  ctx.upstream = route.service;
  const peer = peerAddress(req);
  const trusted = deps.trust.any && deps.trust.isTrusted(peer);
  if (route.rateLimiter !== undefined) {
    const wait = route.rateLimiter.take(clientAddress(facts, peer, deps.trust), nowMs);
    if (wait > 0) {
      return reject(
        'GATEWAY_RATE_LIMITED',
        `Rate limit of route ${route.name} reached.`,
        'rate_limited',
        { ...ctx, retryAfter: wait },
        route,
      );
    }
  }
  if (facts.contentLength > route.bodyLimit) {
    return reject(
      'GATEWAY_BODY_TOO_LARGE',
      `The body (${facts.contentLength} bytes) exceeds the limit of ${route.bodyLimit} bytes.`,
      'body_too_large',
      { ...ctx, close: true },
      route,
    );
  }
  return { ok: true, value: { route, facts, path, query, host, peer, trusted } };
}

/** What failed, from the pool's (and the socket's) error codes. `gone`: nothing was sent. */
export function classifyUpstreamError(err: Error & { code?: string }): {
  kind: FailureKind | 'gone';
  status: GatewayErrorCode;
} {
  switch (err.code ?? '') {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EADDRNOTAVAIL':
      return { kind: 'connect', status: 'GATEWAY_UPSTREAM_UNREACHABLE' };
    case 'UPSTREAM_CONNECT_TIMEOUT':
      return { kind: 'connect', status: 'GATEWAY_UPSTREAM_TIMEOUT' };
    case 'UPSTREAM_HEADERS_TIMEOUT':
    case 'UPSTREAM_BODY_TIMEOUT':
      return { kind: 'timeout', status: 'GATEWAY_UPSTREAM_TIMEOUT' };
    case 'UPSTREAM_POOL_CLOSED':
      return { kind: 'gone', status: 'GATEWAY_UPSTREAM_UNREACHABLE' };
    case 'UPSTREAM_BAD_RESPONSE':
      return { kind: 'bad_response', status: 'GATEWAY_UPSTREAM_BAD_RESPONSE' };
    default:
      // UPSTREAM_CLOSED, ECONNRESET, EPIPE: the connection went away under the request.
      return { kind: 'reset', status: 'GATEWAY_UPSTREAM_UNREACHABLE' };
  }
}

export interface HttpProxy {
  /** The `request` listener (a property, to be passed around unbound). */
  readonly handleRequest: (req: IncomingMessage, res: ServerResponse) => void;
  /** The same for the fast path (fast-path.ts); false for what only node:http serves. */
  readonly handleFast: FastHandler;
  /** Requests being proxied now. */
  inFlight(): number;
  /**
   * Shutdown has begun: every response from now on says `Connection: close`, so that clients
   * take their next request elsewhere (or to the next gateway) instead of to a closing socket.
   */
  setDraining(): void;
  /** Ends the event streams being relayed (they never end by themselves); returns how many. */
  endStreams(): number;
}

export function createHttpProxy(deps: HttpProxyDeps): HttpProxy {
  const { settings, upstreams, metrics, traffic } = deps;
  const accessLog = deps.accessLog ?? loggerAccessSink(deps.logger.child({ component: 'access' }));
  const log = deps.logger.child({ component: 'proxy' });
  const noRoute = metrics.series('-', '-');
  let inFlight = 0;
  let draining = false;
  const streams = new Set<Exchange>();

  const seriesOf = (route: Route): RouteSeries =>
    (route.metricsSlot ??= metrics.series(route.name, route.service)) as RouteSeries;

  /**
   * One proxied request: the pool's response handler for every attempt (a retry goes to another
   * instance with the same object). Methods live on the prototype: few closures per request.
   */
  class Exchange implements ResponseHandler {
    readonly req: ClientRequest;
    readonly res: ClientResponse;
    readonly r: ResolvedRequest;
    readonly start: number;
    readonly upstreamRequest: UpstreamRequest;
    readonly body: BodyReader | undefined = undefined;
    inst!: Instance;
    attempt = 0;
    attemptOpen = false;
    control: RequestControl | undefined = undefined;
    finished = false;
    clientGone = false;
    resumeOnDrain: (() => void) | undefined = undefined;
    readonly endWork: (() => void) | undefined;

    constructor(req: ClientRequest, res: ClientResponse, r: ResolvedRequest, start: number) {
      this.endWork = deps.beginWork?.();
      this.req = req;
      this.res = res;
      this.r = r;
      this.start = start;
      const facts = r.facts;
      const hasBody = facts.contentLength > 0 || facts.chunked;
      if (hasBody) {
        // The fast path takes no request with Content-Length or Transfer-Encoding.
        if (!(req instanceof IncomingMessage)) throw new Error('a request body on the fast path');
        this.body = new BodyReader(req, r.route.bodyLimit);
      }
      const sse = facts.accept !== undefined && facts.accept.includes('text/event-stream');
      const h = facts.headers;
      let headerLines = '';
      for (let i = 0; i < h.length; i += 2) headerLines += `${h[i]}: ${h[i + 1]}\r\n`;
      this.upstreamRequest = {
        method: req.method ?? 'GET',
        path: upstreamPath(r.route, r.path) + r.query,
        headerLines,
        body: this.body ?? null,
        contentLength: facts.chunked ? -1 : facts.contentLength,
        headersTimeoutMs: r.route.headersTimeoutMs,
        // An event stream may stay silent for long; its idle time is the client's business.
        bodyTimeoutMs: sse ? 0 : r.route.bodyTimeoutMs,
      };
      res.once('close', this.onClientClose);
    }

    dispatch(inst: Instance): void {
      this.inst = inst;
      this.attempt++;
      this.attemptOpen = true;
      this.control = undefined;
      inst.outstanding++;
      inst.requests++;
      inst.pool!.dispatch(this.upstreamRequest, this);
    }

    endAttempt(): void {
      if (this.attemptOpen) {
        this.attemptOpen = false;
        this.inst.outstanding--;
      }
    }

    readonly onClientClose = (): void => {
      if (this.finished) return;
      this.clientGone = true;
      this.control?.abort(CLIENT_GONE);
      this.body?.destroy();
    };

    onStart(control: RequestControl): void {
      this.control = control;
      if (this.clientGone) control.abort(CLIENT_GONE);
    }

    onHead(statusCode: number, headers: string[]): void {
      const out: string[] = [];
      let named: Set<string> | undefined;
      let eventStream = false;
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i]!;
        if (name === 'connection') named = connectionTokens(headers[i + 1]!);
      }
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i]!;
        if (isHopByHop(name) || name === 'x-request-id' || named?.has(name) === true) continue;
        const value = headers[i + 1]!;
        if (name === 'content-type' && value.startsWith('text/event-stream')) eventStream = true;
        out.push(name, value);
      }
      out.push('x-request-id', this.r.facts.requestId);
      if (settings.servedByHeader) {
        out.push(
          'x-served-by',
          `route=${this.r.route.name}; upstream=${this.inst.service}; instance=${this.inst.name}`,
          'server-timing',
          `upstream;dur=${(performance.now() - this.start).toFixed(1)}`,
        );
      }
      if (this.body !== undefined && !this.req.complete) {
        // The upstream answered before reading the whole body; nobody will read the rest.
        out.push('connection', 'close');
        markClosing(this.req);
      }
      if (draining) this.res.shouldKeepAlive = false;
      try {
        this.res.writeHead(statusCode, out);
      } catch (err) {
        // Node refuses a header it cannot send; the pool validated them, so this is a bug
        // upstream of us, not a crash of the gateway.
        this.control?.abort(
          Object.assign(new Error(`unsendable response head: ${(err as Error).message}`), {
            code: 'UPSTREAM_BAD_RESPONSE',
          }),
        );
        return;
      }
      if (eventStream) {
        // Events go out as they come: send the head now, and no idle cut on this socket.
        exemptFromIdleSweep(this.req.socket);
        this.res.flushHeaders();
        streams.add(this);
      }
    }

    onData(chunk: Buffer): boolean {
      if (this.res.write(chunk)) return true;
      this.res.once('drain', (this.resumeOnDrain ??= () => this.control?.resume()));
      return false;
    }

    onEnd(last?: Buffer): void {
      this.endAttempt();
      upstreams.reportSuccess(this.inst);
      if (last === undefined) this.res.end();
      else this.res.end(last);
      this.finish(this.res.statusCode);
    }

    onError(err: Error): void {
      this.endAttempt();
      if (this.finished) return;
      if (err === STREAM_DRAINED) {
        // An event stream has no natural end: a clean one tells the client to reconnect.
        this.res.end();
        this.finish(this.res.statusCode);
        return;
      }
      if (err === CLIENT_GONE || this.clientGone || err === CLIENT_BODY_ABORTED) {
        this.res.destroy();
        this.finish(STATUS_CLIENT_CLOSED);
        return;
      }
      if (err instanceof GatewayError) {
        // The body crossed the route's limit while streaming.
        this.fail(err, { close: true }, 'body_too_large');
        return;
      }
      const { kind, status } = classifyUpstreamError(err);
      if (kind !== 'gone') {
        upstreams.reportFailure(this.inst, kind);
        metrics.upstreamError(this.inst.service, this.inst.name, kind);
      }
      if (this.res.headersSent) {
        // Never a short 200: the client sees the connection cut.
        log.warn(
          { err, reqId: this.r.facts.requestId, upstream: this.inst.name },
          'upstream failed mid-response; cutting the client',
        );
        this.res.destroy();
        this.finish(this.res.statusCode);
        return;
      }
      if (this.mayRetry(kind)) {
        const next = upstreams.pick(this.r.route.service, this.inst);
        if (next !== undefined) {
          metrics.retried(this.r.route.name);
          log.debug(
            {
              reqId: this.r.facts.requestId,
              from: this.inst.name,
              to: next.name,
              err: err.message,
            },
            'retrying on another instance',
          );
          this.dispatch(next);
          return;
        }
      }
      const detail =
        status === 'GATEWAY_UPSTREAM_TIMEOUT'
          ? `${this.inst.service} (${this.inst.name}) did not answer in time.`
          : `${this.inst.service} (${this.inst.name}) failed: ${err.message}`;
      this.fail(gatewayError(status, detail, { cause: err }), {}, undefined, err);
    }

    /**
     * RFC 9110 §9.2.2: only an idempotent request may be sent again, and only when none of its
     * body went out. A refused connection means nothing was sent at all, so any request may go
     * elsewhere then; a POST that reached an instance is never replayed. Timeouts are not retried:
     * a slow instance would make the request twice as slow.
     */
    mayRetry(kind: FailureKind | 'gone'): boolean {
      if (this.attempt > this.r.route.retries) return false;
      if (this.control?.bodyStarted === true) return false;
      if (this.body !== undefined && (this.body.started || this.body.destroyed)) return false;
      if (kind === 'connect' || kind === 'gone') return true;
      return kind === 'reset' && this.body === undefined && IDEMPOTENT.has(this.req.method ?? '');
    }

    fail(
      error: GatewayError,
      extra: ProblemContext,
      reason: RejectReason | undefined,
      cause?: Error,
    ): void {
      if (reason !== undefined) metrics.rejected(reason);
      const close = extra.close ?? bodyUnread(this.req);
      if (close) markClosing(this.req);
      const status = sendGatewayProblem(this.res, error, {
        requestId: this.r.facts.requestId,
        route: this.r.route.name,
        upstream: this.r.route.service,
        close,
      });
      this.finish(status, cause ?? error);
    }

    finish(status: number, err?: Error): void {
      if (this.finished) return;
      this.finished = true;
      streams.delete(this);
      inFlight--;
      this.endWork?.();
      const ms = performance.now() - this.start;
      metrics.observe(seriesOf(this.r.route), status, ms / 1000);
      traffic?.record(this.r.route, this.inst, status, ms);
      if (settings.accessLog || status >= 500) {
        accessLog.line(
          status >= 500 ? 'warn' : 'info',
          {
            reqId: this.r.facts.requestId,
            method: this.req.method,
            path: this.r.path,
            status,
            route: this.r.route.name,
            upstream: this.inst?.name,
            ms: Math.round(ms * 10) / 10,
            client: this.r.peer,
            err: err?.message,
          },
          status >= 500 ? 'request failed' : 'request',
        );
      }
    }
  }

  const answerRejection = (
    req: ClientRequest,
    res: ClientResponse,
    r: Rejection,
    start: number,
  ): void => {
    metrics.rejected(r.reason);
    // A body nobody will read: close rather than drain it.
    const close = r.ctx.close === true || bodyUnread(req);
    if (close) markClosing(req);
    const status = sendGatewayProblem(res, r.error, { ...r.ctx, close });
    const series = r.route === undefined ? noRoute : seriesOf(r.route);
    const ms = performance.now() - start;
    metrics.observe(series, status, ms / 1000);
    if (r.route !== undefined) traffic?.record(r.route, undefined, status, ms);
    if (settings.accessLog) {
      accessLog.line(
        'info',
        {
          reqId: r.ctx.requestId,
          method: req.method,
          path: req.url,
          status,
          route: r.ctx.route,
          code: r.error.code,
        },
        'request rejected',
      );
    }
  };

  /** Picks an instance and sends the request there (again, for a request the startup held). */
  const forward = (
    req: ClientRequest,
    res: ClientResponse,
    r: ResolvedRequest,
    start: number,
    mayHold: boolean,
  ): void => {
    const inst = upstreams.pick(r.route.service);
    if (inst === undefined) {
      if (
        mayHold &&
        deps.startup?.hold(r.route.service, () => resume(req, res, r, start)) === true
      ) {
        return;
      }
      const known = upstreams.list(r.route.service).length;
      const detail =
        known === 0
          ? `No instance of ${r.route.service} is known.`
          : `None of the ${known} instance(s) of ${r.route.service} is healthy.`;
      const ctx = {
        requestId: r.facts.requestId,
        route: r.route.name,
        upstream: r.route.service,
        retryAfter: 1,
      };
      answerRejection(
        req,
        res,
        reject('GATEWAY_NO_UPSTREAM', detail, 'no_upstream', ctx, r.route),
        start,
      );
      return;
    }
    addForwardingHeaders(r.facts, req, r.peer, r.trusted, r.host);
    inFlight++;
    new Exchange(req, res, r, start).dispatch(inst);
  };

  const resume = (
    req: ClientRequest,
    res: ClientResponse,
    r: ResolvedRequest,
    start: number,
  ): void => {
    // The client may have given up while the gateway was starting.
    if (res.destroyed || req.socket.destroyed) return;
    if (draining) res.shouldKeepAlive = false;
    forward(req, res, r, start, false);
  };

  /**
   * Resolves a request and forwards or refuses it; an admin path comes back unanswered, for the
   * caller to serve (resolveRequest has had no side effect before it).
   */
  const proxy = (req: ClientRequest, res: ClientResponse): string | undefined => {
    if (draining) res.shouldKeepAlive = false;
    const start = performance.now();
    const resolution = resolveRequest(req, deps, false, Date.now());
    if (resolution.ok) forward(req, res, resolution.value, start, true);
    else if (resolution.admin !== undefined) return resolution.admin;
    else answerRejection(req, res, resolution, start);
    return undefined;
  };

  return {
    handleRequest(req, res) {
      if ((req.socket as ClosingSocket)[CLOSING] === true) {
        req.socket.destroy();
        return;
      }
      const admin = proxy(req, res);
      if (admin !== undefined) deps.admin(req, res, admin);
    },
    // The admin endpoints are node:http's.
    handleFast: (req, res) => proxy(req, res) === undefined,
    inFlight: () => inFlight,
    setDraining() {
      draining = true;
    },
    endStreams() {
      const open = [...streams];
      for (const exchange of open) exchange.control?.abort(STREAM_DRAINED);
      return open.length;
    },
  };
}
