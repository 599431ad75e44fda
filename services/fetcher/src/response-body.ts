import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { fetcherError, isFetcherError, type FetcherError } from './errors';
import type { BodyOut } from './request-model';

/**
 * The response body on its way out: wire bytes counted and capped, Content-Encoding undone
 * (gzip, deflate, br, zstd) and the decoded bytes counted and capped, so a gzip bomb ends at the
 * cap and nothing is buffered beyond the streams' own high-water marks.
 */

/** Buffering per stage of a streamed body; bounded, and so is memory per stream. */
export const STREAM_HIGH_WATER_MARK = 256 * 1024;

export interface BodyCaps {
  /** Bytes as received; past it FETCH_RESPONSE_TOO_LARGE (or `tooLargeCode`). */
  wire: number;
  /** Bytes after decoding. */
  decoded: number;
  /** The error code for a body over a cap (FETCH_TOO_LARGE_FOR_NATS over NATS). */
  tooLargeCode: 'FETCH_RESPONSE_TOO_LARGE' | 'FETCH_TOO_LARGE_FOR_NATS';
  /** Names the limit in the message, e.g. `FETCH_MAX_INLINE_BYTES`. */
  capName: string;
}

export interface BodySizes {
  wire: number;
  decoded: number;
}

/** Maps what a body stream can throw onto fetcher errors. */
export function mapBodyError(err: unknown): FetcherError {
  if (isFetcherError(err)) return err;
  const e = err as { code?: string; message?: string; name?: string };
  switch (e.code) {
    case 'UND_ERR_BODY_TIMEOUT':
      return fetcherError(
        'FETCH_READ_TIMEOUT',
        'The upstream paused longer than the read timeout.',
        { cause: err },
      );
    case 'Z_DATA_ERROR':
    case 'Z_BUF_ERROR':
    case 'ERR_BROTLI_DECOMPRESSION_FAILED':
    case 'ERR__ZSTD_DECOMPRESSION_FAILED':
      return fetcherError(
        'FETCH_DECODE_ERROR',
        `The body is not valid for its Content-Encoding (${e.message ?? e.code}).`,
        { cause: err },
      );
    default:
      if (typeof e.code === 'string' && e.code.startsWith('Z_')) {
        return fetcherError('FETCH_DECODE_ERROR', `Decoding the body failed (${e.code}).`, {
          cause: err,
        });
      }
      return fetcherError(
        'FETCH_UPSTREAM_ERROR',
        `Reading the body failed: ${e.message ?? String(err)}.`,
        { cause: err },
      );
  }
}

class Counter extends Transform {
  bytes = 0;
  constructor(
    private readonly cap: number,
    private readonly onOver: (bytes: number) => FetcherError,
    private readonly mapErrors: boolean,
  ) {
    // Room for a few socket reads (64 KiB each): fewer pause/resume round trips per chunk.
    super({ highWaterMark: STREAM_HIGH_WATER_MARK });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.cap) cb(this.onOver(this.bytes));
    else cb(null, chunk);
  }
  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    // The consumer reads from the last stage: it sees fetcher errors, whatever stage failed.
    cb(err !== null && this.mapErrors ? mapBodyError(err) : err);
  }
}

/** The decoder for a Content-Encoding, or undefined for identity and unknown codings. */
function decoderFor(encoding: string): Transform | undefined {
  // Incomplete streams are an error (Z_BUF_ERROR), not silently short, except that servers often
  // omit the gzip trailer flush; finishFlush keeps what arrived decodable.
  const opts = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip(opts);
    case 'deflate':
      // RFC 9110 §8.4.1.2 says zlib-wrapped, but some servers send raw deflate: inflate sniffs.
      return createDeflateDecoder();
    case 'br':
      return zlib.createBrotliDecompress();
    case 'zstd':
      return zlib.createZstdDecompress();
    default:
      return undefined;
  }
}

/** zlib-wrapped deflate (first byte 0x?8 with a valid header check) or raw deflate. */
function createDeflateDecoder(): Transform {
  let inner: zlib.Inflate | zlib.InflateRaw | undefined;
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (inner === undefined) {
        const zlibWrapped =
          chunk.length >= 2 &&
          (chunk[0]! & 0x0f) === 8 &&
          ((chunk[0]! << 8) | chunk[1]!) % 31 === 0;
        inner = zlibWrapped ? zlib.createInflate() : zlib.createInflateRaw();
        inner.on('data', (d: Buffer) => {
          if (!out.push(d)) inner!.pause();
        });
        inner.on('error', (err) => out.destroy(err));
      }
      if (inner.write(chunk)) cb();
      else inner.once('drain', () => cb());
    },
    flush(cb) {
      if (inner === undefined) {
        cb();
        return;
      }
      inner.once('end', () => cb());
      inner.end();
    },
    read(size) {
      inner?.resume();
      Transform.prototype._read.call(this, size);
    },
  });
  return out;
}

export interface DecodedBody {
  body: Readable;
  /** Whether Content-Encoding was undone (the caller then drops Content-Encoding/-Length). */
  decoded: boolean;
  sizes(): BodySizes;
  /** Resolves (never rejects) when every stage has finished or failed. */
  finished: Promise<FetcherError | undefined>;
}

/**
 * Puts the counters (and a decoder when `decode` and the coding is known) behind the upstream
 * body. Errors anywhere destroy every stage; the consumer gets a {@link FetcherError}.
 */
export function decodeBody(
  upstream: Readable,
  contentEncoding: string | undefined,
  decode: boolean,
  caps: BodyCaps,
): DecodedBody {
  const coding = (contentEncoding ?? '').trim().toLowerCase();
  const decoder = decode && coding !== '' && coding !== 'identity' ? decoderFor(coding) : undefined;
  const over = (what: string, cap: number) => (bytes: number) =>
    fetcherError(
      caps.tooLargeCode,
      `The body passed ${cap} bytes ${what} (${caps.capName}); ${bytes} bytes read so far.`,
    );
  const wire = new Counter(caps.wire, over('on the wire', caps.wire), decoder === undefined);
  const decodedCounter =
    decoder === undefined
      ? undefined
      : new Counter(caps.decoded, over('decoded', caps.decoded), true);
  const stages: (Readable | Transform)[] = [upstream, wire];
  if (decoder !== undefined && decodedCounter !== undefined) stages.push(decoder, decodedCounter);
  const last = stages[stages.length - 1] as Transform;
  const finished = new Promise<FetcherError | undefined>((resolve) => {
    pipeline(stages as [Readable, Transform], (err) =>
      resolve(err == null ? undefined : mapBodyError(err)),
    );
  });
  return {
    body: last,
    decoded: decoder !== undefined,
    sizes: () => ({ wire: wire.bytes, decoded: decodedCounter?.bytes ?? wire.bytes }),
    finished,
  };
}

/**
 * Reads an identity body into memory under the cap, straight from the socket's chunks: the inline
 * envelope's fast path (no stream pipeline per fetch). `keep: false` counts and drops the bytes.
 */
export function readInline(
  body: Readable,
  caps: BodyCaps,
  keep: boolean,
): Promise<{ bytes: Buffer; size: number }> {
  const cap = Math.min(caps.wire, caps.decoded);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > cap) {
        body.destroy(
          fetcherError(
            caps.tooLargeCode,
            `The body passed ${cap} bytes (${caps.capName}); ${size} bytes read so far.`,
          ),
        );
        return;
      }
      if (keep) chunks.push(chunk);
    });
    body.once('end', () => {
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, keep ? size : 0);
      resolve({ bytes, size });
    });
    body.once('error', (err) => reject(mapBodyError(err)));
  });
}

/** Reads a (capped) body into memory: only for the inline envelope, which is capped small. */
export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$|^text\/json$/;
const TEXT_TYPE =
  /^text\/|^application\/(?:[\w.+-]+\+)?xml$|^application\/(?:javascript|ecmascript|x-www-form-urlencoded|graphql)$/;

function mediaType(contentType: string | undefined): { type: string; charset: string | undefined } {
  if (contentType === undefined) return { type: '', charset: undefined };
  const [type, ...params] = contentType.split(';');
  let charset: string | undefined;
  for (const p of params) {
    const [k, v] = p.split('=');
    if (k?.trim().toLowerCase() === 'charset' && v !== undefined) {
      charset = v.trim().replace(/^"|"$/g, '').toLowerCase();
    }
  }
  return { type: (type ?? '').trim().toLowerCase(), charset };
}

function decodeText(bytes: Buffer, charset: string | undefined): { text: string; charset: string } {
  if (charset !== undefined) {
    try {
      return { text: new TextDecoder(charset).decode(bytes), charset };
    } catch {
      // An unknown label: fall through to the guess, as browsers do.
    }
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), charset: 'utf-8' };
  } catch {
    return { text: new TextDecoder('windows-1252').decode(bytes), charset: 'windows-1252' };
  }
}

/** The envelope's body: JSON for JSON, text for text, base64 for the rest (or as asked). */
export function bodyOut(
  bytes: Buffer,
  contentType: string | undefined,
  as: 'auto' | 'text' | 'json' | 'base64',
  forcedCharset: string | undefined,
): BodyOut {
  const { type, charset } = mediaType(contentType);
  const useCharset = forcedCharset ?? charset;
  switch (as) {
    case 'base64':
      return { as: 'base64', base64: bytes.toString('base64') };
    case 'text':
      return { as: 'text', ...decodeText(bytes, useCharset) };
    case 'json': {
      const { text } = decodeText(bytes, useCharset ?? 'utf-8');
      try {
        return { as: 'json', json: JSON.parse(text) as unknown };
      } catch (err) {
        throw fetcherError('FETCH_DECODE_ERROR', `The body is not JSON: ${(err as Error).message}`);
      }
    }
    default: {
      if (bytes.length === 0) return { as: 'none' };
      if (JSON_TYPE.test(type)) {
        const { text, charset: used } = decodeText(bytes, useCharset ?? 'utf-8');
        try {
          return { as: 'json', json: JSON.parse(text) as unknown };
        } catch {
          return { as: 'text', text, charset: used };
        }
      }
      if (TEXT_TYPE.test(type) || useCharset !== undefined) {
        return { as: 'text', ...decodeText(bytes, useCharset) };
      }
      if (type === '' && !bytes.includes(0)) {
        try {
          return {
            as: 'text',
            text: new TextDecoder('utf-8', { fatal: true }).decode(bytes),
            charset: 'utf-8',
          };
        } catch {
          // not text
        }
      }
      return { as: 'base64', base64: bytes.toString('base64') };
    }
  }
}
