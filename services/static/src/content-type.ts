import { extname } from 'node:path';
import { contentType } from 'mime-types';

const FALLBACK = 'application/octet-stream';
const byExtension = new Map<string, string>();

/**
 * The Content-Type for a file name, from the mime-db database (via mime-types), with
 * `charset=utf-8` for text types. Unknown extensions are `application/octet-stream`: bytes,
 * never guessed to be text.
 */
export function contentTypeFor(fileName: string): string {
  const ext = extname(fileName).toLowerCase();
  if (ext === '') return FALLBACK;
  let type = byExtension.get(ext);
  if (type === undefined) {
    type = contentType(ext) || FALLBACK;
    // Bounded by the number of distinct extensions requested; cap it against hostile names.
    if (byExtension.size < 4096) byExtension.set(ext, type);
  }
  return type;
}
