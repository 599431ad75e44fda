import { constants as bufferConstants, isUtf8 } from 'node:buffer';
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import { promisify, TextDecoder } from 'node:util';
import * as zlib from 'node:zlib';
import { fetcherError, isFetcherError, type FetcherError } from './errors';
import type { BodyOut } from './request-model';

/**
 * The response body on its way out: wire bytes counted and capped, Content-Encoding undone
 * (gzip, deflate, br, zstd) and the decoded bytes counted and capped, so a gzip bomb ends at the
 * cap and nothing is buffered beyond the streams' own high-water marks.
 */

const BUFFER_MAX = bufferConstants.MAX_LENGTH;

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

const inflaters: Record<string, (buf: Buffer, opts: zlib.ZlibOptions) => Promise<Buffer>> = {
  gzip: promisify(zlib.gunzip),
  inflate: promisify(zlib.inflate),
  inflateRaw: promisify(zlib.inflateRaw),
  br: promisify(zlib.brotliDecompress),
  zstd: promisify(zlib.zstdDecompress) as (buf: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>,
};

/**
 * Undoes the Content-Encoding of an inline body already in memory (at most the inline cap), in
 * libuv's thread pool, the output capped at `caps.decoded` (a gzip bomb stops there). Identity
 * and unknown codings come back as they are, `decoded: false`, as {@link decodeBody} does.
 */
export async function decodeInline(
  bytes: Buffer,
  contentEncoding: string | undefined,
  caps: BodyCaps,
): Promise<{ bytes: Buffer; decoded: boolean }> {
  const coding = (contentEncoding ?? '').trim().toLowerCase();
  let inflate: ((buf: Buffer, opts: zlib.ZlibOptions) => Promise<Buffer>) | undefined;
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      inflate = inflaters.gzip;
      break;
    case 'deflate': {
      // As createDeflateDecoder: zlib-wrapped when the header says so, else raw deflate.
      const wrapped =
        bytes.length >= 2 && (bytes[0]! & 0x0f) === 8 && ((bytes[0]! << 8) | bytes[1]!) % 31 === 0;
      inflate = wrapped ? inflaters.inflate : inflaters.inflateRaw;
      break;
    }
    case 'br':
      inflate = inflaters.br;
      break;
    case 'zstd':
      inflate = inflaters.zstd;
      break;
    default:
      return { bytes, decoded: false };
  }
  if (bytes.length === 0) return { bytes, decoded: true };
  try {
    const out = await inflate!(bytes, {
      finishFlush: coding === 'br' || coding === 'zstd' ? undefined : zlib.constants.Z_SYNC_FLUSH,
      maxOutputLength: Math.max(1, Math.min(caps.decoded, BUFFER_MAX)),
    });
    return { bytes: out, decoded: true };
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw fetcherError(
        caps.tooLargeCode,
        `The body passed ${caps.decoded} bytes decoded (${caps.capName}).`,
      );
    }
    throw mapBodyError(err);
  }
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
    const decoder = decoderOf(charset);
    // An unknown label falls through to the guess, as browsers do.
    if (decoder !== undefined) return { text: decoder.decode(bytes), charset };
  }
  return isUtf8(bytes)
    ? { text: utf8Text(bytes), charset: 'utf-8' }
    : { text: WINDOWS_1252.decode(bytes), charset: 'windows-1252' };
}

/** UTF-8 without its byte order mark, as TextDecoder gives it. */
function utf8Text(bytes: Buffer): string {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
    ? bytes.toString('utf8', 3)
    : bytes.toString('utf8');
}

// One decoder per label: only valid labels are kept, so the map stays as small as the
// Encoding Standard's list of labels.
const decoders = new Map<string, TextDecoder>();
function decoderOf(label: string): TextDecoder | undefined {
  let d = decoders.get(label);
  if (d === undefined) {
    try {
      d = new TextDecoder(label);
    } catch {
      return undefined;
    }
    decoders.set(label, d);
  }
  return d;
}

const WINDOWS_1252 = new TextDecoder('windows-1252');

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
      if (type === '' && !bytes.includes(0) && isUtf8(bytes)) {
        return { as: 'text', text: utf8Text(bytes), charset: 'utf-8' };
      }
      return { as: 'base64', base64: bytes.toString('base64') };
    }
  }
}
