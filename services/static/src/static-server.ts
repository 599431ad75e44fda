import { randomBytes } from 'node:crypto';
import { realpath, realpathSync, stat, statSync, type Stats } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHttpLogger, type Health, type Logger } from '@netlab/shared';
import { contentRange, parseRange, type ByteRange } from './byte-range';
import { evaluatePreconditions, isRangeFresh } from './conditional';
import type { StaticServerOptions } from './config';
import {
  acceptedEncodings,
  PRECOMPRESSED,
  prefersJson,
  type Precompressed,
} from './content-negotiation';
import { readListing, renderListingHtml, renderListingJson } from './directory-listing';
import { escapeHtml, INERT_PAGE_HEADERS, sendErrorPage } from './error-page';
import { StaticError } from './errors';
import { createFileCache, identityOf, sameIdentity, type CacheEntry } from './file-cache';
import { createFileStreamer, type StreamPart } from './file-streamer';
import { createStaticMetrics } from './metrics';
import { closeFd, fstatFd, isInside, openInRoot, readWhole, type OpenResult } from './open-in-root';
import { describeRepresentation, type Representation } from './representation';
import { directoryRedirect, parseRequestPath, type RequestPath } from './request-path';

/**
 * Health, readiness and metrics live under `/-/`, which is never looked up on disk: a file can
 * neither shadow them nor be shadowed by them, except files in a top-level directory named `-`.
 */
export const ADMIN_PREFIX = '/-/';

export interface StaticServerDeps {
  options: StaticServerOptions;
  logger: Logger;
  health: Health;
  /** Counts a response in flight until it closes (runtime.lifecycle.beginWork). */
  beginWork?: () => () => void;
}

type OkPath = Extract<RequestPath, { kind: 'ok' }>;
type Entry = CacheEntry<Representation>;

const VARY = ['vary', 'Accept-Encoding'] as const;
const NOT_FOUND_DETAIL = 'There is no file at this path.';

function safeStatSync(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function statMaybe(path: string): Promise<Stats | undefined> {
  return new Promise((resolve) => stat(path, (err, st) => resolve(err === null ? st : undefined)));
}

function realpathMaybe(path: string): Promise<string | undefined> {
  return new Promise((resolve) =>
    realpath(path, (err, real) => resolve(err === null ? real : undefined)),
  );
}

/**
 * The static file server: an `http.Server` that is not listening yet (main.ts and tests call
 * `listen`). GET and HEAD of files under `options.root`, with validators, conditional requests,
 * ranges, precompressed siblings and a bounded in-memory cache of small files.
 */
export function createStaticServer(deps: StaticServerDeps): Server {
  const handler = createStaticHandler(deps);
  const server = createServer(handler.handle);
  server.on('close', handler.close);
  // nginx's send_timeout: a client that reads nothing for this long is cut off.
  server.timeout = deps.options.sendTimeoutMs;
  return server;
}

export interface StaticHandler {
  handle(this: void, req: IncomingMessage, res: ServerResponse): void;
  /** Releases the cache and its file watches. */
  close(this: void): void;
}

export function createStaticHandler(deps: StaticServerDeps): StaticHandler {
  const { options, health } = deps;
  const log = deps.logger.child({ component: 'static' });
  const root = realpathSync(options.root);
  const rootPrefix = root === '/' ? '' : root;
  const metrics = createStaticMetrics(health.registry);
  const cache = createFileCache<Representation>({
    maxBytes: options.cacheMaxBytes,
    maxFileBytes: options.cacheMaxFileBytes,
    revalidateMs: options.cacheRevalidateMs,
    onChange: metrics.cacheSize,
  });
  const streamer = createFileStreamer({
    chunkBytes: options.chunkBytes,
    maxPooled: Math.max(4, Math.floor((8 * 1024 * 1024) / options.chunkBytes)),
    onBytes: metrics.bytes,
  });
  const httpLogger = options.accessLog ? createHttpLogger(deps.logger) : undefined;

  const fail = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    metrics.response(sendErrorPage(req, res, err, pathForErrors(req)));
  };
  const notFound = (req: IncomingMessage, res: ServerResponse): void =>
    fail(req, res, new StaticError('STATIC_NOT_FOUND', NOT_FOUND_DETAIL));

  const internalError = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    log.error({ err, url: req.url }, 'request failed');
    if (res.headersSent) res.destroy();
    else fail(req, res, new StaticError('STATIC_READ_FAILED', 'The file could not be read.'));
  };

  const openFailed = (
    req: IncomingMessage,
    res: ServerResponse,
    result: Extract<OpenResult, { ok: false }>,
  ): void => {
    if (result.failure === 'not-found') return notFound(req, res);
    if (result.failure === 'denied') {
      return fail(
        req,
        res,
        new StaticError('STATIC_ACCESS_DENIED', 'The server may not read this file.'),
      );
    }
    internalError(req, res, result.error);
  };

  /** Writes a 200, 206, 304, 412 or 416 for a representation whose bytes are `body` or `fd`. */
  const respond = (
    req: IncomingMessage,
    res: ServerResponse,
    rep: Representation,
    vary: boolean,
    body: Buffer | undefined,
    fd: number | undefined,
  ): void => {
    const release = (): void => {
      if (fd !== undefined) closeFd(fd);
    };
    const h = req.headers;
    if (
      h['if-none-match'] !== undefined ||
      h['if-modified-since'] !== undefined ||
      h['if-match'] !== undefined ||
      h['if-unmodified-since'] !== undefined
    ) {
      const pre = evaluatePreconditions(h, rep.validators);
      if (pre === 'failed') {
        release();
        return fail(
          req,
          res,
          new StaticError(
            'STATIC_PRECONDITION_FAILED',
            'The file does not match If-Match, or changed after If-Unmodified-Since.',
          ),
        );
      }
      if (pre === 'not-modified') {
        release();
        res.writeHead(
          304,
          vary ? [...rep.validatorHeaders, ...VARY] : mutable(rep.validatorHeaders),
        );
        res.end();
        return metrics.response(304);
      }
    }

    let ranges: readonly ByteRange[] | undefined;
    if (h.range !== undefined && req.method === 'GET' && isRangeFresh(h, rep.validators)) {
      const asked = parseRange(h.range, rep.size, options.maxRanges);
      if (asked.kind === 'unsatisfiable') {
        release();
        res.setHeader('content-range', contentRange(rep.size));
        if (vary) res.setHeader('vary', 'Accept-Encoding');
        return fail(
          req,
          res,
          new StaticError(
            'STATIC_RANGE_NOT_SATISFIABLE',
            `No requested range overlaps the ${rep.size} bytes of the file.`,
          ),
        );
      }
      // Several ranges of an encoded representation would need Content-Encoding per part,
      // which nobody implements: those get the whole representation.
      if (asked.kind === 'ranges' && (asked.ranges.length === 1 || rep.encoding === undefined)) {
        ranges = asked.ranges;
      }
    }

    if (ranges === undefined) {
      res.writeHead(200, vary ? [...rep.okHeaders, ...VARY] : mutable(rep.okHeaders));
      metrics.response(200);
      if (req.method === 'HEAD') {
        release();
        res.end();
      } else if (body !== undefined) {
        metrics.bytes(body.length);
        res.end(body);
      } else if (fd !== undefined) {
        stream(req, res, fd, [{ start: 0, end: rep.size - 1 }], undefined);
      }
      return;
    }

    const headers = [...rep.partialHeaders];
    if (vary) headers.push(...VARY);
    let parts: StreamPart[];
    let suffix: Buffer | undefined;
    let length: number;
    const [only] = ranges;
    if (ranges.length === 1 && only !== undefined) {
      parts = [only];
      length = only.end - only.start + 1;
      headers.push('content-type', rep.contentType, 'content-range', contentRange(rep.size, only));
    } else {
      // RFC 9110 §14.6: multipart/byteranges, each part with its Content-Type and Content-Range.
      const boundary = randomBytes(12).toString('hex');
      parts = ranges.map((r, i) => ({
        ...r,
        prefix: Buffer.from(
          `${i === 0 ? '' : '\r\n'}--${boundary}\r\ncontent-type: ${rep.contentType}\r\n` +
            `content-range: ${contentRange(rep.size, r)}\r\n\r\n`,
          'latin1',
        ),
      }));
      suffix = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
      length = suffix.length;
      for (const p of parts) length += (p.prefix?.length ?? 0) + p.end - p.start + 1;
      headers.push('content-type', `multipart/byteranges; boundary=${boundary}`);
    }
    headers.push('content-length', String(length));
    res.writeHead(206, headers);
    metrics.response(206);
    if (body !== undefined) {
      const chunks: Buffer[] = [];
      for (const p of parts) {
        if (p.prefix !== undefined) chunks.push(p.prefix);
        chunks.push(body.subarray(p.start, p.end + 1));
      }
      if (suffix !== undefined) chunks.push(suffix);
      metrics.bytes(length);
      res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length));
    } else if (fd !== undefined) {
      stream(req, res, fd, parts, suffix);
    }
  };

  const stream = (
    req: IncomingMessage,
    res: ServerResponse,
    fd: number,
    parts: readonly StreamPart[],
    suffix: Buffer | undefined,
  ): void => {
    streamer.stream(res, fd, parts, suffix, (err) => {
      if (err !== undefined && err.name !== 'ResponseAbortedError') {
        log.error({ err, url: req.url }, 'streaming a file failed');
      }
    });
  };

  /**
   * The cached representation to serve, when the cache can decide alone: the file is cached and
   * so is the chosen sibling (or the client accepts none, or none exists). Undefined otherwise.
   */
  const fromCache = (
    fsPath: string,
    accepted: readonly Precompressed[] | undefined,
  ): { entry: Entry; vary: boolean } | undefined => {
    const entry = cache.get(fsPath);
    if (entry === undefined) return undefined;
    if (accepted === undefined) return { entry, vary: false };
    let vary = false;
    let best: Entry | undefined;
    let bestRank = Infinity;
    for (const p of PRECOMPRESSED) {
      const sibling = cache.get(fsPath + p.suffix);
      const mtimeMs = sibling?.identity.mtimeMs ?? safeStatSync(fsPath + p.suffix)?.mtimeMs;
      // A sibling older than its source is a stale build output: never served.
      if (mtimeMs === undefined || mtimeMs < entry.identity.mtimeMs) continue;
      vary = true;
      const rank = accepted.indexOf(p);
      if (rank === -1 || rank > bestRank) continue;
      if (sibling === undefined) return undefined; // acceptable but not cached yet: go to disk
      best = sibling;
      bestRank = rank;
    }
    return { entry: best ?? entry, vary };
  };

  /** Opens the precompressed sibling to serve, if the client accepts one that is there. */
  const openSibling = async (
    fsPath: string,
    source: Stats,
    accepted: readonly Precompressed[],
  ): Promise<{ vary: boolean; sibling?: { fd: number; stats: Stats; p: Precompressed } }> => {
    const found = await Promise.all(PRECOMPRESSED.map((p) => statMaybe(fsPath + p.suffix)));
    const fresh = (st: Stats | undefined): boolean =>
      st !== undefined && st.isFile() && st.mtimeMs >= source.mtimeMs;
    const vary = found.some(fresh);
    const pick = accepted.find((p) => fresh(found[PRECOMPRESSED.indexOf(p)]));
    if (pick === undefined) return { vary };
    const opened = await openInRoot(root, fsPath + pick.suffix);
    if (!opened.ok) return { vary };
    if (!opened.file.stats.isFile() || opened.file.stats.mtimeMs < source.mtimeMs) {
      closeFd(opened.file.fd);
      return { vary };
    }
    return { vary, sibling: { ...opened.file, p: pick } };
  };

  const serveDirectory = async (
    req: IncomingMessage,
    res: ServerResponse,
    target: OkPath,
  ): Promise<void> => {
    if (!options.listing) return notFound(req, res);
    const dir = rootPrefix + target.path;
    const real = await realpathMaybe(dir);
    if (real === undefined || !isInside(root, real)) return notFound(req, res);
    const listing = await readListing(real, {
      maxEntries: options.listingMaxEntries,
      dotfiles: options.dotfiles,
    });
    const json = prefersJson(req.headers.accept);
    const body = json
      ? renderListingJson(target.path, listing)
      : renderListingHtml(target.path, listing);
    res.writeHead(200, {
      ...INERT_PAGE_HEADERS,
      'content-type': json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-cache',
    });
    metrics.response(200);
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const redirectToDirectory = (req: IncomingMessage, res: ServerResponse, target: OkPath): void => {
    const location = directoryRedirect(target.rawPath, target.query);
    const body =
      `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Moved</title></head>` +
      `<body><a href="${escapeHtml(location)}">${escapeHtml(location)}</a></body></html>\n`;
    res.writeHead(301, {
      ...INERT_PAGE_HEADERS,
      location,
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    metrics.response(301);
    res.end(body);
  };

  const serveFromDisk = async (
    req: IncomingMessage,
    res: ServerResponse,
    target: OkPath,
    fsPath: string,
    dirUrl: boolean,
    accepted: readonly Precompressed[] | undefined,
  ): Promise<void> => {
    if (deps.beginWork !== undefined) res.once('close', deps.beginWork());
    const opened = await openInRoot(root, fsPath);
    if (!opened.ok) {
      if (opened.failure === 'not-found' && dirUrl) return serveDirectory(req, res, target);
      return openFailed(req, res, opened);
    }
    let { fd, stats } = opened.file;
    if (!stats.isFile()) {
      closeFd(fd);
      if (stats.isDirectory()) {
        return dirUrl ? serveDirectory(req, res, target) : redirectToDirectory(req, res, target);
      }
      return notFound(req, res); // FIFOs, sockets, devices
    }
    let path = fsPath;
    let encoding: string | undefined;
    let vary = false;
    if (accepted !== undefined) {
      const chosen = await openSibling(fsPath, stats, accepted);
      vary = chosen.vary;
      if (chosen.sibling !== undefined) {
        closeFd(fd);
        ({ fd, stats } = chosen.sibling);
        path = fsPath + chosen.sibling.p.suffix;
        encoding = chosen.sibling.p.encoding;
      }
    }
    const identity = identityOf(stats);
    const rep = describeRepresentation(fsPath, identity, encoding, options.cacheControl);
    if (!cache.accepts(identity.size)) return respond(req, res, rep, vary, undefined, fd);

    let body: Buffer;
    try {
      body = await readWhole(fd, identity.size);
      // Cache only what did not change while it was read.
      if (sameIdentity(identity, await fstatFd(fd))) cache.set(path, { identity, body, meta: rep });
    } finally {
      closeFd(fd);
    }
    respond(req, res, rep, vary, body, undefined);
  };

  const serveAdmin = (req: IncomingMessage, res: ServerResponse, url: string): void => {
    const healthPath = url.slice(ADMIN_PREFIX.length - 1).split('?', 1)[0];
    if (health.handle(req, res, healthPath)) return;
    sendErrorPage(
      req,
      res,
      new StaticError('STATIC_NOT_FOUND', 'Only /-/healthz, /-/readyz and /-/metrics are here.'),
      url,
    );
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    if (url.startsWith(ADMIN_PREFIX)) return serveAdmin(req, res, url);
    httpLogger?.(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return fail(
        req,
        res,
        new StaticError('STATIC_METHOD_NOT_ALLOWED', 'Only GET and HEAD are allowed here.'),
      );
    }
    const target = parseRequestPath(url, options.dotfiles);
    switch (target.kind) {
      case 'ok':
        break;
      case 'bad':
        return fail(req, res, new StaticError('STATIC_BAD_PATH', `Bad path: ${target.reason}.`));
      case 'dot-segment':
        return fail(
          req,
          res,
          new StaticError('STATIC_FORBIDDEN_PATH', 'Paths with "." or ".." segments are refused.'),
        );
      case 'hidden':
        return notFound(req, res);
    }
    const dirUrl = target.path.endsWith('/');
    const fsPath = rootPrefix + (dirUrl ? target.path + options.index : target.path);
    // Siblings are looked for only when the client sent Accept-Encoding, as nginx's gzip_static
    // does: a request without it gets the plain file, and no Vary.
    const acceptEncoding = options.precompressed ? req.headers['accept-encoding'] : undefined;
    const accepted = acceptEncoding === undefined ? undefined : acceptedEncodings(acceptEncoding);

    const hit = fromCache(fsPath, accepted);
    if (hit !== undefined) {
      metrics.cacheHit();
      return respond(req, res, hit.entry.meta, hit.vary, hit.entry.body, undefined);
    }
    metrics.cacheMiss();
    serveFromDisk(req, res, target, fsPath, dirUrl, accepted).catch((err: unknown) =>
      internalError(req, res, err),
    );
  };
  return { handle, close: () => cache.clear() };
}

/** writeHead reads a header list without changing it; cached lists are shared, hence readonly. */
function mutable(headers: readonly string[]): string[] {
  return headers as string[];
}

/** The request path as sent, without the query, for error pages. */
function pathForErrors(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
