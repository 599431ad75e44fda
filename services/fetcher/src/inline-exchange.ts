import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

/**
 * An unwanted body (a redirect's, a retried response's) is read to its end up to this many bytes,
 * so that the connection can be reused, and past it the connection is dropped: undici's `dump()`.
 */
export const DUMP_LIMIT = 128 * 1024;

export interface InlineBody {
  /** The bytes kept (empty when not kept). */
  bytes: Buffer;
  /** Bytes received. */
  size: number;
}

/**
 * Makes the error for a body past a cap: one object per fetch rather than a closure per cap (the
 * error is rare, the closures were made on every fetch).
 */
export interface OverCap {
  /** `what`: where the bytes were counted ('' or 'on the wire'); `size`: bytes read so far. */
  overCap(what: string, cap: number, size: number): Error;
}

/** pending: held until the engine decides; keep: held; count: counted only; discard: dumped. */
type Mode = 'pending' | 'keep' | 'count' | 'discard';

const EMPTY = Buffer.alloc(0);

/**
 * One request of an inline fetch (`POST /fetch`, NATS): a bare undici dispatch handler whose
 * response body is collected in memory under a cap. undici's `request()` makes an AsyncResource,
 * a Readable and an abort listener for every request; on the inline path, where the body is
 * buffered anyway, those were a fifth of a fetch's CPU.
 *
 * Chunks that arrive before the engine has decided what to do with the body (they come with the
 * headers, in the same socket read) are held, under `limit`. Then `collect()` keeps them (under
 * its own cap), or `dump()` drops them and reads on to the end (up to {@link DUMP_LIMIT}), or
 * `drop()` closes the connection at once.
 */
export class InlineExchange implements Dispatcher.DispatchHandler {
  statusCode = 0;
  statusText = '';
  headers: IncomingHttpHeaders = {};
  /** Resolves at the response headers; rejects with what undici reports (or the abort reason). */
  readonly response: Promise<InlineExchange>;

  private settleHead: ((err: Error | undefined) => void) | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  private abortReason: Error | undefined;
  private mode: Mode = 'pending';
  private chunks: Buffer[] = [];
  private size = 0;
  private discarded = 0;
  private cap: number;
  /** The cap named in the error: `cap`, except while pending (held under a larger limit). */
  private namedCap: number;
  private what: string;
  private ended = false;
  private error: Error | undefined;
  private waiter: { resolve: () => void; reject: (err: Error) => void } | undefined;

  /**
   * @param limit the most body bytes held before `collect()` names its own cap.
   * @param caps makes the error for a body over the cap, naming `namedCap` and `what`.
   * @param requestBody the request's body, destroyed when the exchange fails (a file stream).
   */
  constructor(
    limit: number,
    private readonly caps: OverCap,
    namedCap: number,
    what: string,
    private readonly requestBody?: unknown,
  ) {
    this.cap = limit;
    this.namedCap = namedCap;
    this.what = what;
    this.response = new Promise((resolve, reject) => {
      this.settleHead = (err) => (err === undefined ? resolve(this) : reject(err));
    });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason !== undefined) controller.abort(this.abortReason);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusText?: string,
  ): void {
    // 1xx interim responses (100 Continue, 103 Early Hints) precede the real one.
    if (statusCode < 200) return;
    this.statusCode = statusCode;
    this.statusText = statusText ?? '';
    this.headers = headers;
    this.finishHead(undefined);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.mode === 'discard') {
      this.discarded += chunk.length;
      if (this.discarded > DUMP_LIMIT) {
        // Not worth reading: the connection goes instead.
        this.ended = true;
        controller.abort(new Error('body discarded'));
        this.settleBody(undefined);
      }
      return;
    }
    this.size += chunk.length;
    if (this.size > this.cap) {
      const err = this.caps.overCap(this.what, this.namedCap, this.size);
      this.fail(err);
      controller.abort(err);
      return;
    }
    if (this.mode !== 'count') this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    this.ended = true;
    this.settleBody(undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    this.fail(err);
    const body = this.requestBody as Readable | undefined;
    if (body !== undefined && body !== null && typeof body.destroy === 'function') {
      body.on('error', () => undefined);
      body.destroy(err);
    }
  }

  /** Ends the exchange with `reason` (the deadline, a caller gone), whatever phase it is in. */
  abort(reason: Error): void {
    if (this.ended || this.error !== undefined) return;
    this.abortReason = reason;
    this.fail(reason);
    this.controller?.abort(reason);
  }

  /**
   * The body, read to its end: kept when `keep` (else only counted), refused past `cap` with
   * the caps' error naming `what` (rejects with it, or with what ended the body).
   */
  collect(keep: boolean, cap: number, what: string): Promise<InlineBody> {
    this.prepare(keep, cap, what);
    return this.wait().then(() => this.result());
  }

  /**
   * {@link collect} without a promise when the body has already arrived, as a small one does
   * with its headers: the body, or undefined when it is still coming; throws what ended it.
   */
  collectNow(keep: boolean, cap: number, what: string): InlineBody | undefined {
    this.prepare(keep, cap, what);
    if (this.error !== undefined) throw this.error;
    return this.ended ? this.result() : undefined;
  }

  private prepare(keep: boolean, cap: number, what: string): void {
    this.mode = keep ? 'keep' : 'count';
    if (!keep) this.chunks = [];
    this.cap = cap;
    this.namedCap = cap;
    this.what = what;
    if (this.error === undefined && this.size > cap) {
      const err = this.caps.overCap(what, cap, this.size);
      this.fail(err);
      if (!this.ended) this.controller?.abort(err);
    }
  }

  private result(): InlineBody {
    const { chunks } = this;
    const bytes =
      chunks.length === 0
        ? EMPTY
        : chunks.length === 1
          ? chunks[0]!
          : Buffer.concat(chunks, this.size);
    return { bytes, size: this.size };
  }

  /** Drops the body: reads on to its end (up to {@link DUMP_LIMIT}), never rejects. */
  dump(): Promise<void> {
    this.mode = 'discard';
    this.chunks = [];
    this.discarded = 0;
    return this.wait().catch(() => undefined);
  }

  /** Closes the connection now (a body refused before reading it). */
  drop(reason: Error = new Error('body refused')): void {
    this.chunks = [];
    this.mode = 'discard';
    if (this.ended || this.error !== undefined) return;
    this.fail(reason);
    this.controller?.abort(reason);
  }

  private wait(): Promise<void> {
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.ended) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private finishHead(err: Error | undefined): void {
    const settle = this.settleHead;
    this.settleHead = undefined;
    settle?.(err);
  }

  private settleBody(err: Error | undefined): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (w === undefined) return;
    if (err === undefined) w.resolve();
    else w.reject(err);
  }

  private fail(err: Error): void {
    if (this.error !== undefined) return;
    this.error = err;
    this.finishHead(err);
    this.settleBody(err);
  }
}
