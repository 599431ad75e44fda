import type { Validators } from './conditional';
import { contentTypeFor } from './content-type';
import type { FileIdentity } from './file-cache';

/**
 * One representation of a requested file: the file itself or a precompressed sibling of it
 * (`app.js.br` for `/app.js`), with everything the response headers need.
 */
export interface Representation {
  readonly size: number;
  readonly validators: Validators;
  readonly contentType: string;
  /** `br` or `gzip` for a precompressed sibling. */
  readonly encoding: string | undefined;
  /** ETag, Last-Modified, Cache-Control: what a 304 repeats (RFC 9110 §15.4.5). */
  readonly validatorHeaders: readonly string[];
  /** Those and the content headers, without Content-Type and Content-Length (for 206). */
  readonly partialHeaders: readonly string[];
  /** The 200 response's headers, Content-Type and Content-Length included. */
  readonly okHeaders: readonly string[];
}

/**
 * A strong ETag from what identifies the bytes: modification time (µs) and size, plus the
 * encoding, since each encoded representation needs a tag of its own (RFC 9110 §8.8.3). The inode
 * is left out so that instances serving copies of the same files agree (nginx does the same).
 */
export function entityTag(identity: FileIdentity, encoding: string | undefined): string {
  const mtime = Math.round(identity.mtimeMs * 1000).toString(16);
  const tag = `${mtime}-${identity.size.toString(16)}`;
  return encoding === undefined ? `"${tag}"` : `"${tag}-${encoding}"`;
}

export function describeRepresentation(
  fileName: string,
  identity: FileIdentity,
  encoding: string | undefined,
  cacheControl: string | undefined,
): Representation {
  const etag = entityTag(identity, encoding);
  const lastModifiedSeconds = Math.floor(identity.mtimeMs / 1000);
  const lastModified = new Date(lastModifiedSeconds * 1000).toUTCString();
  const contentType = contentTypeFor(fileName);
  const validatorHeaders = ['etag', etag, 'last-modified', lastModified];
  if (cacheControl !== undefined) validatorHeaders.push('cache-control', cacheControl);
  const partialHeaders = [
    ...validatorHeaders,
    'accept-ranges',
    'bytes',
    'x-content-type-options',
    'nosniff',
  ];
  if (encoding !== undefined) partialHeaders.push('content-encoding', encoding);
  const okHeaders = [
    ...partialHeaders,
    'content-type',
    contentType,
    'content-length',
    String(identity.size),
  ];
  return {
    size: identity.size,
    validators: { etag, lastModifiedSeconds },
    contentType,
    encoding,
    validatorHeaders,
    partialHeaders,
    okHeaders,
  };
}
