import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The most of a log file `tailLines` reads, however few newlines it finds. */
export const MAX_TAIL_BYTES = 8 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

/**
 * The last `n` lines of a file, read backwards in chunks so that a large log costs only its tail.
 * Synchronous on purpose: the supervisor reads the tail and subscribes to new lines in the same
 * tick, so that a following CLI neither misses nor repeats a line. A missing file has no lines.
 */
export function tailLines(path: string, n: number, maxBytes = MAX_TAIL_BYTES): string[] {
  if (n <= 0) return [];
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let position = size;
    let newlines = 0;
    // One more newline than lines wanted: the file ends with one.
    while (position > 0 && newlines <= n && size - position < maxBytes) {
      const length = Math.min(CHUNK_BYTES, position, maxBytes - (size - position));
      position -= length;
      const chunk = Buffer.allocUnsafe(length);
      readSync(fd, chunk, 0, length, position);
      for (const byte of chunk) if (byte === 0x0a) newlines += 1;
      chunks.unshift(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    // The first line is partial unless the read reached the start of the file.
    if (position > 0) lines.shift();
    return lines.slice(-n);
  } finally {
    closeSync(fd);
  }
}
