import { close, constants, fstat, open, read, readlink, realpath, type Stats } from 'node:fs';
import { sep } from 'node:path';

/** An open file or directory that is inside the root. The caller closes `fd`. */
export interface OpenedFile {
  readonly fd: number;
  readonly stats: Stats;
}

/** Why a path could not be opened, in the terms of the response. */
export type OpenFailure = 'not-found' | 'denied' | 'error';

export type OpenResult =
  | { readonly ok: true; readonly file: OpenedFile }
  | { readonly ok: false; readonly failure: OpenFailure; readonly error?: NodeJS.ErrnoException };

// O_NONBLOCK: opening a FIFO must not hang a thread-pool thread; fstat then turns it away.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;
const NOT_FOUND_CODES = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP', 'EISDIR']);

function failureOf(err: NodeJS.ErrnoException): OpenFailure {
  if (err.code !== undefined && NOT_FOUND_CODES.has(err.code)) return 'not-found';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'denied';
  return 'error';
}

/** Whether `real` (a resolved path) is `root` or below it; the separator stops `/www-secret`. */
export function isInside(root: string, real: string): boolean {
  if (root === sep) return real.startsWith(sep);
  return real === root || (real.startsWith(root) && real.charCodeAt(root.length) === 0x2f);
}

function realPathOfFd(fd: number, path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    // Linux names the file an fd really refers to: no race between checking and opening.
    readlink(`/proc/self/fd/${fd}`, (err, link) => {
      if (err === null) return resolve(link);
      realpath(path, (err2, real) => resolve(err2 === null ? real : undefined));
    });
  });
}

/**
 * Opens `path` (root + decoded request path) and makes sure that what was opened lies inside
 * `root` (a real path), whatever symlinks led there. Outside is reported as `not-found`, so a
 * request cannot even learn that such a link exists.
 */
export function openInRoot(root: string, path: string): Promise<OpenResult> {
  return new Promise((resolve) => {
    open(path, OPEN_FLAGS, (err, fd) => {
      if (err !== null) return resolve({ ok: false, failure: failureOf(err), error: err });
      let stats: Stats | undefined;
      let real: string | undefined | null = null;
      let failed: NodeJS.ErrnoException | undefined;
      const settle = (): void => {
        if (real === null || (stats === undefined && failed === undefined)) return;
        if (failed !== undefined || stats === undefined) {
          close(fd, () => undefined);
          return resolve({ ok: false, failure: 'error', ...(failed ? { error: failed } : {}) });
        }
        if (real === undefined || !isInside(root, real)) {
          close(fd, () => undefined);
          return resolve({ ok: false, failure: 'not-found' });
        }
        resolve({ ok: true, file: { fd, stats } });
      };
      fstat(fd, (e, st) => {
        if (e !== null) failed = e;
        else stats = st;
        settle();
      });
      void realPathOfFd(fd, path).then((r) => {
        real = r;
        settle();
      });
    });
  });
}

export function closeFd(fd: number): void {
  close(fd, () => undefined);
}

/** Reads `size` bytes from the start of `fd` into one buffer (small files only). */
export function readWhole(fd: number, size: number): Promise<Buffer> {
  // Not from the shared slab: a cached body must not pin 8 KiB of unrelated buffers.
  const buf = Buffer.allocUnsafeSlow(size);
  return new Promise((resolve, reject) => {
    const step = (offset: number): void => {
      if (offset === size) return resolve(buf);
      read(fd, buf, offset, size - offset, offset, (err, n) => {
        if (err !== null) return reject(err);
        if (n === 0) return reject(new Error('the file shrank while it was being read'));
        step(offset + n);
      });
    };
    step(0);
  });
}

export function fstatFd(fd: number): Promise<Stats> {
  return new Promise((resolve, reject) => {
    fstat(fd, (err, st) => (err === null ? resolve(st) : reject(err)));
  });
}
