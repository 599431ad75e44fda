import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import express, {
  type ErrorRequestHandler,
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import { Histogram } from 'prom-client';
import {
  createHttpLogger,
  netlabError,
  PROBLEM_CONTENT_TYPE,
  requestIdOf,
  toProblem,
  type Health,
  type Logger,
} from '@netlab/shared';
import type { ApiRoute } from './api-route';
import { apiRoutes } from './api-routes';
import type { DynamicConfig } from './config';
import { issueCsrfToken } from './csrf';
import { DynamicError, dynamicError } from './errors';
import { buildOpenApi } from './openapi';
import { noticeOf, pageRoutes } from './pages';
import type { QuoteHub } from './quote-hub';
import type { QuoteRefresher } from './quote-refresher';
import type { StockRepository } from './stock-repository';
import { createTemplates } from './templates';

export interface AppDeps {
  config: DynamicConfig;
  logger: Logger;
  health: Health;
  repo: StockRepository;
  hub: QuoteHub;
  refresher: QuoteRefresher;
  version: string;
  instance: string;
  /** The package directory (templates/ and public/ are in it). */
  packageDir: string;
  /** Counts a request as in-flight work (the lifecycle's, for status and drain). */
  beginWork?: () => () => void;
}

export interface DynamicApp {
  readonly app: Express;
  /** The HTTP server (not listening): the app plus the `/ws/quotes` upgrade. */
  readonly server: Server;
  readonly routes: readonly ApiRoute[];
  readonly openapi: Record<string, unknown>;
}

const PAGE_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";
// Swagger UI sets inline styles.
const DOCS_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

const HTML_TYPE = 'text/html; charset=utf-8';
const STARTED = Symbol('started');
type TimedResponse = Response & { [STARTED]: number };

/** The swagger-ui-dist files /docs needs, served from the package (no CDN). */
const SWAGGER_FILES = new Set([
  'swagger-ui.css',
  'swagger-ui-bundle.js',
  'swagger-ui-bundle.js.map',
]);

/** body-parser's error types, onto our codes. */
function fromBodyParser(err: { type?: unknown; message?: unknown }): DynamicError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return dynamicError('MALFORMED_BODY', `The body is not valid JSON: ${String(err.message)}`);
    case 'entity.too.large':
      return dynamicError('BODY_TOO_LARGE', 'The body is larger than BODY_LIMIT allows.');
    case 'parameters.too.many':
      return dynamicError('BODY_TOO_LARGE', 'The form has too many fields.');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return dynamicError('UNSUPPORTED_MEDIA_TYPE', String(err.message));
    default:
      return undefined;
  }
}

function wantsHtml(req: Request): boolean {
  if (req.path.startsWith('/api/') || req.path === '/openapi.json') return false;
  return req.accepts(['html', 'json']) === 'html';
}

export function createApp(deps: AppDeps): DynamicApp {
  const { config, logger, health } = deps;
  const log = logger.child({ component: 'app' });
  const templates = createTemplates(join(deps.packageDir, 'templates'));
  const publicDir = join(deps.packageDir, 'public');
  const swaggerDir = dirname(require.resolve('swagger-ui-dist/package.json'));
  const routes = apiRoutes({
    repo: deps.repo,
    refresher: deps.refresher,
    hub: deps.hub,
    config,
  });
  const openapi = buildOpenApi(routes, {
    title: 'netlab dynamic: the stock app',
    version: deps.version,
    description:
      "Stocks (`info`) and followed stocks (`focus`) of the lab's stock database, quote refresh through the fetcher, and live updates (SSE at `/api/stream/quotes`, WebSocket at `/ws/quotes`). Errors are RFC 9457 problem details with a stable `code`.",
  });
  const openapiJson = JSON.stringify(openapi);
  const docsHtml = templates.render('docs.njk', {});

  const requestSeconds = new Histogram({
    name: 'dynamic_http_request_duration_seconds',
    help: 'HTTP requests by method, route template and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [health.registry],
  });

  const renderPage = (
    req: Request,
    res: Response,
    name: string,
    ctx: Record<string, unknown>,
  ): void => {
    const html = templates.render(name, {
      instance: deps.instance,
      csrf: issueCsrfToken(req, res),
      notice: noticeOf(req),
      ...ctx,
    });
    // No ETag: every page carries a fresh CSRF token and is no-store, so none could ever match.
    res.setHeader('content-security-policy', PAGE_CSP);
    res.setHeader('cache-control', 'no-store');
    res.setHeader('content-type', HTML_TYPE);
    res.setHeader('content-length', Buffer.byteLength(html));
    if (req.method === 'HEAD') res.end();
    else res.end(html);
  };

  // Shared by every response: the listener reads the response it is called on, so no closure is
  // made per request.
  function observe(this: Response): void {
    const started = (this as TimedResponse)[STARTED];
    const route = this.req.route as { path?: unknown } | undefined;
    const label = typeof route?.path === 'string' ? route.path : 'other';
    requestSeconds.observe(
      { method: this.req.method, route: label, status: String(this.statusCode) },
      (performance.now() - started) / 1000,
    );
  }
  const httpLogger = createHttpLogger(logger);
  const beginWork = deps.beginWork;

  const app = express();
  app.disable('x-powered-by');
  // Behind the gateway (on this host or in the lab's network), X-Forwarded-* tell the client.
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.set('etag', 'strong');

  // One middleware for what every request needs: health paths first (not logged, not timed), then
  // the request id and log line, in-flight accounting for the drain, timing, and two headers.
  app.use((req, res, next) => {
    if (health.handle(req, res)) return;
    httpLogger(req, res);
    if (beginWork !== undefined) res.on('close', beginWork());
    (res as TimedResponse)[STARTED] = performance.now();
    res.on('finish', observe);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'same-origin');
    next();
  });

  const api = express.Router();
  const json = express.json({
    limit: config.bodyLimitBytes,
    strict: true,
    type: ['application/json', 'application/*+json'],
  });
  const allowed = new Map<string, Set<string>>();
  for (const route of routes) {
    const handlers: RequestHandler[] = [];
    if (route.body !== undefined) {
      handlers.push((req: Request, _res: Response, next: NextFunction) => {
        // null: no body at all; false: another type. Both are refused.
        if (typeof req.is(['application/json', 'application/*+json']) !== 'string') {
          throw dynamicError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.');
        }
        next();
      }, json);
    }
    handlers.push(async (req, res) => {
      await route.handle(req, res);
    });
    api[route.method](route.path, ...handlers);
    const methods = (allowed.get(route.path) ?? new Set<string>()).add(route.method.toUpperCase());
    if (route.method === 'get') methods.add('HEAD');
    allowed.set(route.path, methods);
  }
  for (const [path, methods] of allowed) {
    const allow = [...methods, 'OPTIONS'].join(', ');
    api.all(path, (req, res) => {
      if (req.method === 'OPTIONS') {
        res.set('allow', allow).status(204).end();
        return;
      }
      throw dynamicError('METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use ${allow}.`, {
        headers: { allow },
      });
    });
  }
  app.use(api);
  // The API and the pages first: the routes that carry the traffic are matched before the rest.
  app.use(pageRoutes({ repo: deps.repo, refresher: deps.refresher, config, renderPage }));

  app.use('/assets', express.static(publicDir, { index: false, maxAge: '1h', fallthrough: true }));
  // Browsers ask for it on every page; an empty answer keeps 404s out of the logs.
  app.get('/favicon.ico', (_req, res) => {
    res.set('cache-control', 'public, max-age=86400').status(204).end();
  });
  app.get('/openapi.json', (_req, res) => {
    res.set('cache-control', 'no-cache');
    res.type('application/json').send(openapiJson);
  });
  app.get(['/docs', '/docs/'], (_req, res) => {
    res.set('content-security-policy', DOCS_CSP);
    res.type('html').send(docsHtml);
  });
  app.get('/docs/init.js', (_req, res) => res.sendFile(join(publicDir, 'docs-init.js')));
  app.get('/docs/:file', (req, res, next) => {
    const file = String(req.params.file);
    if (!SWAGGER_FILES.has(file)) return next();
    res.sendFile(join(swaggerDir, file), { maxAge: '1d' });
  });

  app.use((req, _res, next) => {
    next(netlabError('NOT_FOUND', `Nothing is at ${req.path}.`));
  });

  const onError: ErrorRequestHandler = (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const known = fromBodyParser(typeof err === 'object' && err !== null ? err : {}) ?? err;
    const problem = toProblem(known, req.originalUrl);
    if (known instanceof DynamicError) {
      if (known.errors !== undefined) problem.errors = known.errors;
      for (const [name, value] of Object.entries(known.headers ?? {})) res.set(name, value);
    }
    if (problem.status >= 500) {
      log.error({ err, code: problem.code, url: req.originalUrl }, 'request failed');
    }
    res.status(problem.status);
    res.set('cache-control', 'no-store');
    if (wantsHtml(req)) {
      renderPage(req, res, 'error.njk', {
        status: problem.status,
        title: problem.title,
        detail: problem.detail,
        code: problem.code,
        requestId: requestIdOf(res.getHeader('x-request-id') as string | undefined),
      });
      return;
    }
    res.type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
  };
  app.use(onError);

  const server = createServer(app);
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === '/ws/quotes') {
      deps.hub.handleUpgrade(req, socket, head);
      return;
    }
    const body = JSON.stringify(toProblem(netlabError('NOT_FOUND', `No WebSocket at ${path}.`)));
    socket.end(
      `HTTP/1.1 404 Not Found\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  return { app, server, routes, openapi };
}
