import { statSync, watch, type FSWatcher, type Stats } from 'node:fs';

/** The identity of a file's content at one moment: equal identities, equal bytes. */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

export function identityOf(st: Stats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return (
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs &&
    a.dev === b.dev
  );
}

/** A cached file: its bytes and whatever the server precomputed from them. */
export interface CacheEntry<T> {
  readonly identity: FileIdentity;
  readonly body: Buffer;
  readonly meta: T;
}

export interface FileCache<T> {
  /** The entry for `path` if the file there is still the one cached; else undefined. */
  get(path: string): CacheEntry<T> | undefined;
  /** Whether a file of `size` bytes may be cached at all. */
  accepts(size: number): boolean;
  set(path: string, entry: CacheEntry<T>): void;
  delete(path: string): void;
  /** Drops every entry and stops watching (the server closed). */
  clear(): void;
  readonly bytes: number;
  readonly size: number;
}

export interface FileCacheOptions {
  /** Total bytes of cached bodies; 0 disables the cache. */
  maxBytes: number;
  /** Files larger than this are never cached. */
  maxFileBytes: number;
  /**
   * How long a hit may go without a `stat` check; 0 checks on every hit. File events evict an
   * entry at once; this bounds staleness where no event comes (NFS, some bind mounts).
   */
  revalidateMs: number;
  /** Called with the number of entries and their bytes after every change (metrics). */
  onChange?: (entries: number, bytes: number) => void;
  /** Tests replace the clock. */
  now?: () => number;
}

interface Slot<T> {
  readonly entry: CacheEntry<T>;
  checkedAt: number;
  watcher: FSWatcher | undefined;
}

function statQuietly(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined; // EACCES, ELOOP, …: the slow path will say what it is
  }
}

/**
 * A bounded LRU cache of small files, keyed by file-system path.
 *
 * A hit costs no system call: each entry's file is watched (inotify), and any event on it (a
 * write, a truncate, chmod, a rename over it, a delete) evicts the entry. Because events can be
 * missing (network file systems, mmap writes, a parent directory renamed), a hit older than
 * `revalidateMs` is also checked with one `stat` against the cached identity (device, inode,
 * size, mtime, ctime). A file that cannot be watched is checked on every hit.
 */
export function createFileCache<T>(opts: FileCacheOptions): FileCache<T> {
  const slots = new Map<string, Slot<T>>();
  const now = opts.now ?? Date.now;
  let bytes = 0;
  const changed = (): void => opts.onChange?.(slots.size, bytes);

  const drop = (path: string, slot: Slot<T>): void => {
    if (slots.get(path) !== slot) return; // already replaced or gone
    slots.delete(path);
    slot.watcher?.close();
    bytes -= slot.entry.body.length;
    changed();
  };

  const watchSlot = (path: string, slot: Slot<T>): FSWatcher | undefined => {
    try {
      const w = watch(path, { persistent: false }, () => drop(path, slot));
      w.on('error', () => drop(path, slot));
      return w;
    } catch {
      return undefined; // ENOSPC (inotify watches used up), or the file went: stat every hit
    }
  };

  const accepts = (size: number): boolean =>
    opts.maxBytes > 0 && size <= opts.maxFileBytes && size <= opts.maxBytes;

  return {
    get(path) {
      const slot = slots.get(path);
      if (slot === undefined) return undefined;
      const t = now();
      if (slot.watcher === undefined || t - slot.checkedAt >= opts.revalidateMs) {
        const st = statQuietly(path);
        if (st === undefined || !st.isFile() || !sameIdentity(slot.entry.identity, st)) {
          drop(path, slot);
          return undefined;
        }
        slot.checkedAt = t;
      }
      // Most recently used goes last; eviction takes from the front.
      slots.delete(path);
      slots.set(path, slot);
      return slot.entry;
    },
    accepts,
    set(path, entry) {
      if (!accepts(entry.body.length)) return;
      const old = slots.get(path);
      if (old !== undefined) drop(path, old);
      while (bytes + entry.body.length > opts.maxBytes) {
        const oldest = slots.entries().next();
        if (oldest.done === true) break;
        drop(oldest.value[0], oldest.value[1]);
      }
      const slot: Slot<T> = { entry, checkedAt: now(), watcher: undefined };
      slots.set(path, slot);
      bytes += entry.body.length;
      changed();
      slot.watcher = watchSlot(path, slot);
      // A change between reading the file and watching it raised no event: look once more.
      const st = statQuietly(path);
      if (st === undefined || !sameIdentity(entry.identity, st)) drop(path, slot);
    },
    delete(path) {
      const slot = slots.get(path);
      if (slot !== undefined) drop(path, slot);
    },
    clear() {
      for (const [path, slot] of [...slots]) drop(path, slot);
    },
    get bytes() {
      return bytes;
    },
    get size() {
      return slots.size;
    },
  };
}
