import type { IncomingHttpHeaders } from 'node:http';

/** The validators of one representation: a strong ETag and the modification time. */
export interface Validators {
  /** Quoted, strong: `"…"`. */
  readonly etag: string;
  /** Whole seconds since the epoch (HTTP dates have no finer precision). */
  readonly lastModifiedSeconds: number;
}

/** What the preconditions of a GET or HEAD say: go on, 304, or 412. */
export type Precondition = 'proceed' | 'not-modified' | 'failed';

/**
 * Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since in the order of
 * RFC 9110 §13.2.2, for GET and HEAD on a representation that exists.
 */
export function evaluatePreconditions(headers: IncomingHttpHeaders, v: Validators): Precondition {
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    // §13.1.1: strong comparison; `*` matches any current representation.
    if (!matchesEntityTag(ifMatch, v.etag, 'strong')) return 'failed';
  } else {
    const since = parseHttpDate(headers['if-unmodified-since']);
    if (since !== undefined && v.lastModifiedSeconds > since) return 'failed';
  }
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    // §13.1.2: weak comparison; If-Modified-Since is then ignored (§13.1.3).
    return matchesEntityTag(ifNoneMatch, v.etag, 'weak') ? 'not-modified' : 'proceed';
  }
  const since = parseHttpDate(headers['if-modified-since']);
  if (since !== undefined && v.lastModifiedSeconds <= since) return 'not-modified';
  return 'proceed';
}

/**
 * Whether a Range may be honoured under If-Range (RFC 9110 §13.1.5): true without If-Range; with
 * an entity-tag, only a strong match; with a date, only exactly the Last-Modified date.
 */
export function isRangeFresh(headers: IncomingHttpHeaders, v: Validators): boolean {
  const ifRange = headers['if-range'];
  if (ifRange === undefined) return true;
  if (typeof ifRange !== 'string') return false; // several If-Range fields: ignore the Range
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) {
    return !value.startsWith('W/') && value === v.etag;
  }
  const date = parseHttpDate(value);
  return date !== undefined && date === v.lastModifiedSeconds;
}

/** Seconds since the epoch of an HTTP-date, or undefined when the value is not one. */
export function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/**
 * Whether a list of entity-tags (`"a", W/"b"`, or `*`) matches `etag`. A tag's opaque part may
 * hold commas, so the list is scanned, not split.
 */
export function matchesEntityTag(list: string, etag: string, mode: 'strong' | 'weak'): boolean {
  const len = list.length;
  let i = 0;
  while (i < len) {
    let c = list.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x2c /* , */) {
      i += 1;
      continue;
    }
    if (c === 0x2a /* * */) return true;
    let weak = false;
    if (c === 0x57 /* W */ && list.charCodeAt(i + 1) === 0x2f /* / */) {
      weak = true;
      i += 2;
      c = list.charCodeAt(i);
    }
    if (c !== 0x22 /* " */) return false; // not a list of entity-tags: matches nothing
    const end = list.indexOf('"', i + 1);
    if (end === -1) return false;
    const tag = list.slice(i, end + 1);
    if (tag === etag && (mode === 'weak' || !weak)) return true;
    i = end + 1;
  }
  return false;
}
