import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { toProblem, type Logger, type Problem } from '@netlab/shared';
import { fetcherError, isFetcherError } from './errors';
import type { FetchEngine } from './fetch-engine';
import { parseFetchRequest, type FetchRequest } from './request-model';

/**
 * Streamed downloads to FETCH_DOWNLOADS_DIR: `POST /downloads` starts one and returns at once;
 * progress is polled (`GET /downloads/:id`), streamed (SSE) and published on NATS
 * (`netlab.events.fetcher.download`). Bytes go from the socket to the file with backpressure,
 * hashed on the way; nothing is held in memory beyond the streams' buffers.
 */

export type DownloadState = 'running' | 'done' | 'failed' | 'cancelled';

export interface DownloadRecord {
  id: string;
  url: string;
  state: DownloadState;
  /** Decoded bytes written so far. */
  bytes: number;
  /** Content-Length when the body is not decoded, else null. */
  total: number | null;
  /** Bytes per second over the last progress interval. */
  rateBps: number;
  status?: number;
  finalUrl?: string;
  /** Where the file is, once done. */
  path?: string;
  sha256?: string;
  error?: Problem;
  startedAt: string;
  finishedAt?: string;
}

export type DownloadEvent = { kind: 'progress' | DownloadState; download: DownloadRecord };

export interface DownloadOptions {
  /** The file name to use (its base name only); default: the URL's last path segment. */
  filename?: string;
  /** Hash the body on the way (default true). */
  sha256?: boolean;
  requestId?: string;
}

export interface DownloadManager {
  start(req: FetchRequest, opts?: DownloadOptions): DownloadRecord;
  get(id: string): DownloadRecord | undefined;
  list(): DownloadRecord[];
  cancel(id: string): boolean;
  /** Every event of one download; returns the unsubscribe function. */
  subscribe(id: string, listener: (event: DownloadEvent) => void): () => void;
  active(): number;
  /** Cancels what runs and waits for it to stop. */
  close(): Promise<void>;
}

export interface DownloadManagerDeps {
  engine: FetchEngine;
  dir: string;
  /** FETCH_MAX_DOWNLOADS */
  maxActive: number;
  /** FETCH_DOWNLOAD_HISTORY: finished records kept for GET. */
  maxRecords: number;
  /** FETCH_PROGRESS_INTERVAL */
  progressIntervalMs: number;
  /** Publishes an event (NATS); failures are logged, never fatal. */
  publish?: (event: DownloadEvent) => void;
  /** Told when a record appears (`true`) and when it leaves the history (`false`). */
  onRecord?: (id: string, present: boolean) => void;
  logger: Logger;
}

/**
 * A download request, over HTTP (`POST /downloads`) and NATS (`netlab.fetcher.download`): the
 * envelope plus `"download": {"filename": "x.bin", "sha256": true}`.
 */
export function parseDownloadStart(raw: unknown): {
  envelope: FetchRequest;
  options: Omit<DownloadOptions, 'requestId'>;
} {
  const { download, ...rest } = (raw ?? {}) as {
    download?: { filename?: unknown; sha256?: unknown };
  };
  if (download !== undefined && (typeof download !== 'object' || download === null)) {
    throw fetcherError(
      'FETCH_INVALID_REQUEST',
      'download must be an object: {"filename": "...", "sha256": true}.',
    );
  }
  const filename = download?.filename;
  const sha256 = download?.sha256;
  if (
    (filename !== undefined && typeof filename !== 'string') ||
    (sha256 !== undefined && typeof sha256 !== 'boolean')
  ) {
    throw fetcherError(
      'FETCH_INVALID_REQUEST',
      'download.filename is a string and download.sha256 a boolean.',
    );
  }
  return {
    envelope: parseFetchRequest(rest),
    options: {
      ...(filename === undefined ? {} : { filename }),
      ...(sha256 === undefined ? {} : { sha256 }),
    },
  };
}

function safeName(name: string): string {
  const base = basename(name)
    .replace(/[^\w.-]+/g, '_')
    .replace(/^\.+/, '');
  return base.slice(0, 128) || 'download';
}

interface Running {
  record: DownloadRecord;
  controller: AbortController;
  done: Promise<void>;
}

export function createDownloadManager(deps: DownloadManagerDeps): DownloadManager {
  const log = deps.logger.child({ component: 'downloads' });
  const records = new Map<string, DownloadRecord>();
  const running = new Map<string, Running>();
  const listeners = new Map<string, Set<(event: DownloadEvent) => void>>();
  let dirReady: Promise<unknown> | undefined;

  const emit = (kind: DownloadEvent['kind'], record: DownloadRecord): void => {
    const event: DownloadEvent = { kind, download: { ...record } };
    for (const l of listeners.get(record.id) ?? []) l(event);
    try {
      deps.publish?.(event);
    } catch (err) {
      log.debug({ err }, 'could not publish a download event');
    }
  };

  const trim = (): void => {
    for (const [id, r] of records) {
      if (records.size <= deps.maxRecords) break;
      if (r.state !== 'running') {
        records.delete(id);
        deps.onRecord?.(id, false);
      }
    }
  };

  const run = async (run: Running, req: FetchRequest, opts: DownloadOptions): Promise<void> => {
    const { record, controller } = run;
    const urlName = new URL(req.url).pathname.split('/').filter(Boolean).pop() ?? 'download';
    const file = join(deps.dir, `${record.id}-${safeName(opts.filename ?? urlName)}`);
    const part = `${file}.part`;
    let last = { at: performance.now(), bytes: 0 };
    const ticker = setInterval(() => {
      const now = performance.now();
      record.rateBps = Math.round(
        ((record.bytes - last.bytes) * 1000) / Math.max(1, now - last.at),
      );
      last = { at: now, bytes: record.bytes };
      emit('progress', record);
    }, deps.progressIntervalMs);
    try {
      dirReady ??= mkdir(deps.dir, { recursive: true });
      await dirReady;
      const res = await deps.engine.open(req, {
        via: 'download',
        signal: controller.signal,
        ...(opts.requestId === undefined ? {} : { requestId: opts.requestId }),
      });
      record.status = res.status;
      record.finalUrl = res.url;
      const length = Number(res.headers['content-length']);
      record.total = !res.decoded && Number.isFinite(length) ? length : null;
      if (res.status >= 400) {
        res.body.destroy();
        throw fetcherError(
          'FETCH_UPSTREAM_STATUS',
          `The upstream answered ${res.status} ${res.reason}.`,
        );
      }
      const hash = opts.sha256 === false ? undefined : createHash('sha256');
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb: TransformCallback) {
          record.bytes += chunk.length;
          hash?.update(chunk);
          cb(null, chunk);
        },
      });
      await pipeline(res.body, tap, createWriteStream(part), { signal: controller.signal });
      const err = await res.finished;
      if (err !== undefined) throw err;
      await rename(part, file);
      record.path = file;
      if (hash !== undefined) record.sha256 = hash.digest('hex');
      record.state = 'done';
    } catch (err) {
      await rm(part, { force: true }).catch(() => undefined);
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : err;
      record.state = controller.signal.aborted ? 'cancelled' : 'failed';
      record.error = toProblem(isFetcherError(reason) ? reason : err);
      if (record.state === 'failed')
        log.warn({ id: record.id, code: record.error.code }, 'download failed');
    } finally {
      clearInterval(ticker);
      record.finishedAt = new Date().toISOString();
      running.delete(record.id);
      emit(record.state, record);
      listeners.delete(record.id);
      trim();
    }
  };

  return {
    start(req, opts = {}) {
      if (running.size >= deps.maxActive) {
        throw fetcherError(
          'FETCH_DOWNLOADS_FULL',
          `${running.size} downloads are running (FETCH_MAX_DOWNLOADS=${deps.maxActive}).`,
          {
            retryAfterS: 5,
          },
        );
      }
      const record: DownloadRecord = {
        id: randomUUID(),
        url: req.url,
        state: 'running',
        bytes: 0,
        total: null,
        rateBps: 0,
        startedAt: new Date().toISOString(),
      };
      records.set(record.id, record);
      deps.onRecord?.(record.id, true);
      const entry: Running = { record, controller: new AbortController(), done: Promise.resolve() };
      running.set(record.id, entry);
      entry.done = run(entry, req, opts);
      return { ...record };
    },
    get: (id) => {
      const r = records.get(id);
      return r === undefined ? undefined : { ...r };
    },
    list: () => [...records.values()].map((r) => ({ ...r })),
    cancel(id) {
      const r = running.get(id);
      if (r === undefined) return false;
      r.controller.abort(fetcherError('FETCH_DOWNLOAD_CANCELLED', `Download ${id} was cancelled.`));
      return true;
    },
    subscribe(id, listener) {
      let set = listeners.get(id);
      if (set === undefined) listeners.set(id, (set = new Set()));
      set.add(listener);
      return () => void set.delete(listener);
    },
    active: () => running.size,
    async close() {
      const all = [...running.values()];
      for (const r of all)
        r.controller.abort(
          fetcherError('FETCH_DOWNLOAD_CANCELLED', 'The fetcher is shutting down.'),
        );
      await Promise.allSettled(all.map((r) => r.done));
    },
  };
}
