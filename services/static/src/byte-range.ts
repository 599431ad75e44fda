/** An inclusive byte range, as in `Content-Range: bytes start-end/size`. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * What a Range header asks of a representation of `size` bytes:
 * - `ignore`: serve the whole representation with 200 (no Range, another unit, a syntax error,
 *   more ranges than allowed, or nothing to cut from an empty file);
 * - `unsatisfiable`: 416 with `Content-Range: bytes *\/size`;
 * - `ranges`: one range (206 with Content-Range) or several (206 multipart/byteranges).
 */
export type RangeRequest =
  | { readonly kind: 'ignore' }
  | { readonly kind: 'unsatisfiable' }
  | { readonly kind: 'ranges'; readonly ranges: readonly ByteRange[] };

const IGNORE: RangeRequest = { kind: 'ignore' };
const UNSATISFIABLE: RangeRequest = { kind: 'unsatisfiable' };
const SPEC = /^\s*(\d*)\s*-\s*(\d*)\s*$/;

/** Parses `bytes=…` (RFC 9110 §14.1.2) against a representation of `size` bytes. */
export function parseRange(header: string, size: number, maxRanges: number): RangeRequest {
  const eq = header.indexOf('=');
  if (eq === -1 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return IGNORE;
  const specs = header.slice(eq + 1).split(',');
  // RFC 9110 §14.2: a server may ignore a Range with many ranges (a denial-of-service pattern).
  if (specs.length > maxRanges) return IGNORE;
  const ranges: ByteRange[] = [];
  let sawSuffix = false;
  for (const spec of specs) {
    const m = SPEC.exec(spec);
    if (m === null) return IGNORE;
    const [, first = '', last = ''] = m;
    if (first === '' && last === '') return IGNORE;
    if (first === '') {
      // suffix-range: the last N bytes; satisfiable when N > 0 (§14.1.2).
      const n = Number(last);
      if (n > 0) sawSuffix = true;
      if (n > 0 && size > 0) ranges.push({ start: Math.max(0, size - n), end: size - 1 });
      continue;
    }
    const start = Number(first);
    const end = last === '' ? size - 1 : Number(last);
    if (last !== '' && end < start) return IGNORE; // invalid range-spec: ignore the field
    if (start < size) ranges.push({ start, end: Math.min(end, size - 1) });
  }
  if (ranges.length === 0) {
    // An empty file has no bytes to send, though `bytes=-N` is "satisfiable": serve it whole.
    return size === 0 && sawSuffix ? IGNORE : UNSATISFIABLE;
  }
  return { kind: 'ranges', ranges: coalesce(ranges) };
}

/**
 * Merges overlapping and adjacent ranges (RFC 9110 §14.3 allows it). The order asked for is kept
 * unless merging happened, in which case the result is ascending.
 */
export function coalesce(ranges: ByteRange[]): readonly ByteRange[] {
  if (ranges.length < 2) return ranges;
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [];
  for (const r of sorted) {
    const prev = merged[merged.length - 1];
    if (prev !== undefined && r.start <= prev.end + 1) {
      merged[merged.length - 1] = { start: prev.start, end: Math.max(prev.end, r.end) };
    } else merged.push(r);
  }
  return merged.length === ranges.length ? ranges : merged;
}

/** `bytes start-end/size`, or `bytes *\/size` without a range. */
export function contentRange(size: number, range?: ByteRange): string {
  return range === undefined ? `bytes */${size}` : `bytes ${range.start}-${range.end}/${size}`;
}
