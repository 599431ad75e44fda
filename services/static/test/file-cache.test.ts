import { statSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '@netlab/shared/testing';
import { createFileCache, identityOf, type FileCacheOptions } from '../src/file-cache';
import { tempDir } from './fixture';

describe('createFileCache', () => {
  let root: { dir: string; dispose: () => Promise<void> };
  const caches: { clear(): void }[] = [];
  beforeAll(async () => {
    root = await tempDir();
  });
  afterEach(() => {
    for (const c of caches.splice(0)) c.clear();
  });
  afterAll(() => root.dispose());

  const cacheOf = (opts: Partial<FileCacheOptions>) => {
    const c = createFileCache<object>({
      maxBytes: 100,
      maxFileBytes: 100,
      revalidateMs: 1000,
      ...opts,
    });
    caches.push(c);
    return c;
  };
  const entryFor = (path: string) => ({
    identity: identityOf(statSync(path)),
    body: Buffer.from('x'.repeat(statSync(path).size)),
    meta: {},
  });

  it('evicts an entry as soon as its file is written (a file event, no polling)', async () => {
    const path = join(root.dir, 'a.txt');
    await writeFile(path, 'one');
    const cache = cacheOf({ revalidateMs: 3_600_000 });
    cache.set(path, entryFor(path));
    expect(cache.get(path)).toBeDefined();
    await writeFile(path, 'one'); // same size, maybe the same mtime: only the event tells
    await waitFor('the write to evict the entry', () => cache.size === 0);
    expect(cache.get(path)).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });

  it('catches a change that raises no event on the file with a stat after revalidateMs', async () => {
    // Renaming the parent directory sends no event to a watch on the file inside it.
    const dir = join(root.dir, 'site');
    await mkdir(dir);
    const path = join(dir, 'page.txt');
    await writeFile(path, 'old');
    let clock = 0;
    const cache = cacheOf({ revalidateMs: 1000, now: () => clock });
    cache.set(path, entryFor(path));
    await rename(dir, join(root.dir, 'site-old'));
    await mkdir(dir);
    await writeFile(path, 'new');
    clock = 999;
    expect(cache.get(path)).toBeDefined(); // within the window: served as cached
    clock = 1000;
    expect(cache.get(path)).toBeUndefined();
  });

  it('checks every hit with a stat when revalidateMs is 0', async () => {
    const dir = join(root.dir, 'strict');
    await mkdir(dir);
    const path = join(dir, 'page.txt');
    await writeFile(path, 'old');
    const cache = cacheOf({ revalidateMs: 0 });
    cache.set(path, entryFor(path));
    await rename(dir, join(root.dir, 'strict-old'));
    await mkdir(dir);
    await writeFile(path, 'new');
    expect(cache.get(path)).toBeUndefined();
  });

  it('does not cache a file that changed before it was watched', async () => {
    const path = join(root.dir, 'race.txt');
    await writeFile(path, 'before');
    const stale = entryFor(path);
    await writeFile(path, 'after, longer');
    const cache = cacheOf({});
    cache.set(path, stale);
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used entry to stay within maxBytes', async () => {
    const cache = cacheOf({ maxBytes: 10, maxFileBytes: 10 });
    const paths = ['p1', 'p2', 'p3'].map((n) => join(root.dir, n));
    for (const p of paths) await writeFile(p, '1234');
    cache.set(paths[0]!, entryFor(paths[0]!));
    cache.set(paths[1]!, entryFor(paths[1]!));
    cache.get(paths[0]!); // p1 is now more recent than p2
    cache.set(paths[2]!, entryFor(paths[2]!));
    expect(cache.get(paths[1]!)).toBeUndefined();
    expect(cache.get(paths[0]!)).toBeDefined();
    expect(cache.bytes).toBe(8);
  });

  it('refuses files above maxFileBytes, and everything when maxBytes is 0', () => {
    expect(cacheOf({ maxBytes: 100, maxFileBytes: 10 }).accepts(11)).toBe(false);
    expect(cacheOf({ maxBytes: 0, maxFileBytes: 10 }).accepts(1)).toBe(false);
  });

  it('reports entries and bytes on every change', async () => {
    const seen: [number, number][] = [];
    const cache = cacheOf({ onChange: (n, b) => seen.push([n, b]) });
    const path = join(root.dir, 'r.txt');
    await writeFile(path, 'abc');
    cache.set(path, entryFor(path));
    cache.delete(path);
    expect(seen).toEqual([
      [1, 3],
      [0, 0],
    ]);
  });
});
