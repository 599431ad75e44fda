import {
  chmod,
  mkdir,
  rename,
  symlink,
  truncate,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { waitFor } from '@netlab/shared/testing';
import { fetchRaw, rawGet, startStatic, tempDir, writeTree, type RunningStatic } from './fixture';

const JS = 'export const answer = 42;\n'.repeat(40);

describe('static server', () => {
  let root: { dir: string; dispose: () => Promise<void> };
  let server: RunningStatic;

  beforeAll(async () => {
    root = await tempDir();
    await writeTree(root.dir, {
      'index.html': '<h1>home</h1>\n',
      'hello.txt': 'hello world\n',
      'style.css': 'body{}',
      'data.json': '{"a":1}',
      'image.png': Buffer.from([0x89, 0x50, 0x4e, 0x47]),
      noext: 'bytes',
      'weird.unknownext': 'bytes',
      'sub/index.html': '<h1>sub</h1>',
      'sub/page.html': '<h1>page</h1>',
      'no-index/file.txt': 'x',
      'example.com/index.html': 'not an open redirect',
      '.env': 'SECRET=1',
      '.git/config': '[core]',
      'app.js': JS,
      'app.js.gz': gzipSync(JS),
      'app.js.br': brotliCompressSync(JS),
      'only-gz.css': 'a{}'.repeat(100),
      'only-gz.css.gz': gzipSync('a{}'.repeat(100)),
      'space name.txt': 'spaced',
      'ünïcödé.txt': 'unicode',
    });
    server = await startStatic(root.dir);
  });
  afterAll(async () => {
    await server.close();
    await root.dispose();
  });

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    fetchRaw(server.port, path, { method, headers });

  describe('files and directories', () => {
    it('serves index.html for /', async () => {
      const r = await get('/');
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe('<h1>home</h1>\n');
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    });

    it('serves index.html for a directory URL with a trailing slash', async () => {
      expect((await get('/sub/')).body.toString()).toBe('<h1>sub</h1>');
    });

    it('redirects a directory URL without its trailing slash with 301, keeping the query', async () => {
      const r = await get('/sub?x=1');
      expect(r.status).toBe(301);
      expect(r.headers.location).toBe('/sub/?x=1');
    });

    it('never redirects to another host: //example.com becomes /example.com/', async () => {
      const r = await rawGet(server.port, '//example.com');
      expect(r.status).toBe(301);
      expect(r.raw.toString('latin1')).toMatch(/\r\nlocation: \/example\.com\/\r\n/i);
    });

    it('answers 404 for a directory without index.html when listing is off', async () => {
      expect((await get('/no-index/')).status).toBe(404);
    });

    it('answers 404 for a missing file', async () => {
      const r = await get('/missing.txt');
      expect(r.status).toBe(404);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.body.toString()).toContain('404 Not found');
    });

    it('answers 404 for a trailing slash after a file name', async () => {
      expect((await get('/hello.txt/')).status).toBe(404);
    });

    it('serves percent-encoded names: spaces and UTF-8', async () => {
      expect((await get('/space%20name.txt')).body.toString()).toBe('spaced');
      expect((await get(`/${encodeURIComponent('ünïcödé.txt')}`)).body.toString()).toBe('unicode');
    });

    it('ignores the query string', async () => {
      expect((await get('/hello.txt?v=2')).body.toString()).toBe('hello world\n');
    });

    it('accepts an absolute-form request target (RFC 9112 §3.2.2)', async () => {
      const r = await rawGet(server.port, `http://127.0.0.1:${server.port}/hello.txt`);
      expect(r.status).toBe(200);
      expect(r.raw.toString()).toContain('hello world');
    });

    it('answers 404 for a FIFO instead of hanging on it', async () => {
      const fifo = join(root.dir, 'pipe');
      execFileSync('mkfifo', [fifo]);
      expect((await get('/pipe')).status).toBe(404);
    });

    it('answers 403 for a file the server may not read', async () => {
      if (process.getuid?.() === 0) return; // root reads everything: nothing to test as root
      await writeFile(join(root.dir, 'locked.txt'), 'x');
      await chmod(join(root.dir, 'locked.txt'), 0o000);
      expect((await get('/locked.txt')).status).toBe(403);
    });
  });

  describe('content types', () => {
    it.each([
      ['/hello.txt', 'text/plain; charset=utf-8'],
      ['/style.css', 'text/css; charset=utf-8'],
      ['/app.js', 'text/javascript; charset=utf-8'],
      ['/data.json', 'application/json; charset=utf-8'],
      ['/image.png', 'image/png'],
      ['/noext', 'application/octet-stream'],
      ['/weird.unknownext', 'application/octet-stream'],
    ])('serves %s as %s', async (path, type) => {
      const r = await get(path);
      expect(r.headers['content-type']).toBe(type);
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    });
  });

  describe('methods', () => {
    it('answers HEAD with the GET headers and no body', async () => {
      const g = await get('/hello.txt');
      const h = await get('/hello.txt', {}, 'HEAD');
      expect(h.status).toBe(200);
      expect(h.body.length).toBe(0);
      expect(h.headers['content-length']).toBe(g.headers['content-length']);
      expect(h.headers.etag).toBe(g.headers.etag);
      expect(h.headers['content-type']).toBe(g.headers['content-type']);
    });

    it.each(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])(
      'answers %s with 405 and Allow: GET, HEAD',
      async (method) => {
        const r = await get('/hello.txt', {}, method);
        expect(r.status).toBe(405);
        expect(r.headers.allow).toBe('GET, HEAD');
      },
    );
  });

  describe('dotfiles', () => {
    it.each(['/.env', '/.git/config', '/.git/', '/sub/../.env'])('hides %s', async (path) => {
      const r = await rawGet(server.port, path);
      expect([403, 404]).toContain(r.status);
      expect(r.raw.toString()).not.toContain('SECRET');
      expect(r.raw.toString()).not.toContain('[core]');
    });

    it('serves dotfiles when they are enabled', async () => {
      const s = await startStatic(root.dir, { dotfiles: true });
      try {
        expect((await fetchRaw(s.port, '/.env')).body.toString()).toBe('SECRET=1');
      } finally {
        await s.close();
      }
    });
  });

  describe('error pages', () => {
    it('never echoes the path unescaped', async () => {
      const encoded = await get('/%3Cscript%3Ealert(1)%3C%2Fscript%3E');
      expect(encoded.status).toBe(404);
      expect(encoded.body.toString()).not.toContain('<script>');
      expect(encoded.headers['content-security-policy']).toContain("default-src 'none'");
      const raw = await rawGet(server.port, '/<script>alert(1)</script>');
      expect(raw.status).toBe(404);
      expect(raw.raw.toString()).not.toContain('<script>');
      expect(raw.raw.toString()).toContain('&lt;script&gt;');
    });

    it('answers problem+json when Accept prefers JSON', async () => {
      const r = await get('/missing', { accept: 'application/json' });
      expect(r.headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(r.body.toString())).toEqual({
        type: 'urn:netlab:error:static-not-found',
        title: 'Not found',
        status: 404,
        detail: 'There is no file at this path.',
        code: 'STATIC_NOT_FOUND',
        retryable: false,
        instance: '/missing',
      });
    });

    it("answers HTML to a browser's Accept", async () => {
      const accept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
      expect((await get('/missing', { accept })).headers['content-type']).toBe(
        'text/html; charset=utf-8',
      );
    });

    it('answers 400 with STATIC_BAD_PATH for malformed percent-encoding', async () => {
      const r = await get('/%E0%A4%A', { accept: 'application/json' });
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body.toString())).toMatchObject({ code: 'STATIC_BAD_PATH' });
    });

    it('answers 403 with STATIC_FORBIDDEN_PATH for a dot segment', async () => {
      const r = await rawGet(server.port, '/sub/../hello.txt');
      expect(r.status).toBe(403);
      expect(r.raw.toString()).toContain('STATIC_FORBIDDEN_PATH');
    });
  });

  describe('precompressed siblings', () => {
    it('serves .br to a client that accepts br, with Content-Encoding and Vary', async () => {
      const r = await get('/app.js', { 'accept-encoding': 'gzip, deflate, br' });
      expect(r.headers['content-encoding']).toBe('br');
      expect(r.headers.vary).toBe('Accept-Encoding');
      expect(r.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(r.body).toEqual(brotliCompressSync(JS));
    });

    it('serves .gz when the client prefers gzip by q-value', async () => {
      const r = await get('/app.js', { 'accept-encoding': 'br;q=0.5, gzip' });
      expect(r.headers['content-encoding']).toBe('gzip');
      expect(r.body).toEqual(gzipSync(JS));
    });

    it('serves the plain file, with Vary, to a client that refuses both', async () => {
      const r = await get('/app.js', { 'accept-encoding': 'identity, br;q=0, gzip;q=0' });
      expect(r.headers['content-encoding']).toBeUndefined();
      expect(r.headers.vary).toBe('Accept-Encoding');
      expect(r.body.toString()).toBe(JS);
    });

    it('serves the plain file, with Vary, when only a sibling the client refuses exists', async () => {
      const r = await get('/only-gz.css', { 'accept-encoding': 'br' });
      expect(r.headers['content-encoding']).toBeUndefined();
      expect(r.headers.vary).toBe('Accept-Encoding');
    });

    it('serves the plain file to a client without Accept-Encoding', async () => {
      const r = await get('/app.js');
      expect(r.headers['content-encoding']).toBeUndefined();
      expect(r.body.toString()).toBe(JS);
    });

    it('sends no Vary for a file without siblings', async () => {
      expect((await get('/hello.txt', { 'accept-encoding': 'gzip' })).headers.vary).toBeUndefined();
    });

    it('ignores a sibling older than its source (a stale build)', async () => {
      await writeTree(root.dir, { 'stale.js': 'old', 'stale.js.gz': gzipSync('old') });
      await utimes(join(root.dir, 'stale.js.gz'), new Date(2000, 0), new Date(2000, 0));
      const r = await get('/stale.js', { 'accept-encoding': 'gzip' });
      expect(r.headers['content-encoding']).toBeUndefined();
      expect(r.body.toString()).toBe('old');
    });

    it('does not precompress when STATIC_PRECOMPRESSED is off', async () => {
      const s = await startStatic(root.dir, { precompressed: false });
      try {
        const r = await fetchRaw(s.port, '/app.js', { headers: { 'accept-encoding': 'br' } });
        expect(r.headers['content-encoding']).toBeUndefined();
        expect(r.headers.vary).toBeUndefined();
      } finally {
        await s.close();
      }
    });
  });

  describe('symlinks', () => {
    let outside: { dir: string; dispose: () => Promise<void> };
    beforeAll(async () => {
      outside = await tempDir('netlab-outside-');
      await writeTree(outside.dir, { 'secret.txt': 'TOP SECRET', 'd/inner.txt': 'INNER' });
      await symlink(join(outside.dir, 'secret.txt'), join(root.dir, 'leak.txt'));
      await symlink(join(outside.dir, 'd'), join(root.dir, 'leakdir'));
      await symlink(join(root.dir, 'hello.txt'), join(root.dir, 'alias.txt'));
    });
    afterAll(() => outside.dispose());

    it('answers 404 for a symlink that leaves the root', async () => {
      const r = await get('/leak.txt');
      expect(r.status).toBe(404);
      expect(r.body.toString()).not.toContain('TOP SECRET');
    });

    it('answers 404 for a file below a symlinked directory outside the root', async () => {
      expect((await get('/leakdir/inner.txt')).status).toBe(404);
      expect((await get('/leakdir')).status).toBe(404);
    });

    it('serves a symlink that stays inside the root', async () => {
      expect((await get('/alias.txt')).body.toString()).toBe('hello world\n');
    });
  });

  describe('health under /-/', () => {
    it('answers /-/healthz, /-/readyz and /-/metrics', async () => {
      expect((await get('/-/healthz')).status).toBe(200);
      const ready = await get('/-/readyz');
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.body.toString())).toMatchObject({ status: 'ready' });
      const metrics = await get('/-/metrics');
      expect(metrics.body.toString()).toContain('static_responses_total');
    });

    it('answers /-/readyz with 503 once draining', async () => {
      const s = await startStatic(root.dir);
      try {
        s.health.setDraining();
        expect((await fetchRaw(s.port, '/-/readyz')).status).toBe(503);
      } finally {
        await s.close();
      }
    });

    it('never reads /-/… from disk, and leaves /healthz to the files', async () => {
      await writeTree(root.dir, { '-/healthz': 'shadow', healthz: 'a file named healthz' });
      expect((await get('/-/healthz')).body.toString()).toContain('"status":"ok"');
      expect((await get('/-/other')).status).toBe(404);
      expect((await get('/healthz')).body.toString()).toBe('a file named healthz');
    });
  });

  describe('metrics', () => {
    it('counts responses by status, bytes sent, and cache hits', async () => {
      const s = await startStatic(root.dir);
      try {
        await fetchRaw(s.port, '/hello.txt');
        await fetchRaw(s.port, '/hello.txt');
        await fetchRaw(s.port, '/missing');
        const text = (await fetchRaw(s.port, '/-/metrics')).body.toString();
        expect(text).toMatch(/static_responses_total\{status="200"[^}]*\} 2/);
        expect(text).toMatch(/static_responses_total\{status="404"[^}]*\} 1/);
        expect(text).toMatch(/static_sent_bytes_total\{[^}]*\} 24\b/);
        expect(text).toMatch(/static_cache_lookups_total\{result="hit"[^}]*\} 1/);
        expect(text).toMatch(/static_cache_entries\{[^}]*\} 1/);
      } finally {
        await s.close();
      }
    });
  });

  describe('in-memory cache', () => {
    it('serves the new content right after a file is rewritten in place', async () => {
      await writeFile(join(root.dir, 'live.txt'), 'version 1');
      expect((await get('/live.txt')).body.toString()).toBe('version 1');
      expect((await get('/live.txt')).body.toString()).toBe('version 1');
      await writeFile(join(root.dir, 'live.txt'), 'version 2');
      expect((await get('/live.txt')).body.toString()).toBe('version 2');
    });

    it('serves the new content after an atomic rename over the file', async () => {
      await writeFile(join(root.dir, 'atomic.txt'), 'before');
      expect((await get('/atomic.txt')).body.toString()).toBe('before');
      await writeFile(join(root.dir, 'atomic.txt.tmp'), 'after!');
      await rename(join(root.dir, 'atomic.txt.tmp'), join(root.dir, 'atomic.txt'));
      expect((await get('/atomic.txt')).body.toString()).toBe('after!');
    });

    it('answers 404 once a cached file is deleted', async () => {
      await writeFile(join(root.dir, 'gone.txt'), 'here');
      expect((await get('/gone.txt')).status).toBe(200);
      await unlink(join(root.dir, 'gone.txt'));
      expect((await get('/gone.txt')).status).toBe(404);
    });

    it('stays within STATIC_CACHE_MAX_BYTES, evicting the least recently used', async () => {
      const dir = await tempDir();
      try {
        const files: Record<string, Buffer> = {};
        for (let i = 0; i < 10; i += 1) files[`f${i}.bin`] = Buffer.alloc(1000, i);
        await writeTree(dir.dir, files);
        const s = await startStatic(dir.dir, { cacheMaxBytes: 3000, cacheMaxFileBytes: 2000 });
        try {
          for (let i = 0; i < 10; i += 1) {
            expect((await fetchRaw(s.port, `/f${i}.bin`)).body).toEqual(Buffer.alloc(1000, i));
          }
          const text = (await fetchRaw(s.port, '/-/metrics')).body.toString();
          expect(text).toMatch(/static_cache_bytes\{[^}]*\} 3000\b/);
          expect(text).toMatch(/static_cache_entries\{[^}]*\} 3\b/);
        } finally {
          await s.close();
        }
      } finally {
        await dir.dispose();
      }
    });

    it('never caches a file above STATIC_CACHE_MAX_FILE_BYTES', async () => {
      const dir = await tempDir();
      try {
        await writeTree(dir.dir, { 'big.bin': Buffer.alloc(2001, 1), 'small.bin': 'x' });
        const s = await startStatic(dir.dir, { cacheMaxFileBytes: 2000 });
        try {
          await fetchRaw(s.port, '/big.bin');
          await fetchRaw(s.port, '/big.bin');
          await fetchRaw(s.port, '/small.bin');
          const text = (await fetchRaw(s.port, '/-/metrics')).body.toString();
          expect(text).toMatch(/static_cache_entries\{[^}]*\} 1\b/);
          expect(text).toMatch(/static_cache_bytes\{[^}]*\} 1\b/);
        } finally {
          await s.close();
        }
      } finally {
        await dir.dispose();
      }
    });
  });

  describe('directory listing', () => {
    let listing: RunningStatic;
    beforeAll(async () => {
      await mkdir(join(root.dir, 'list'), { recursive: true });
      await writeTree(root.dir, {
        'list/a.txt': 'aaaa',
        'list/<img src=x onerror=alert(1)>.txt': 'xss',
        'list/nested/x': 'x',
        'list/.hidden': 'h',
      });
      listing = await startStatic(root.dir, { listing: true, listingMaxEntries: 3 });
    });
    afterAll(() => listing.close());

    it('lists a directory without index.html: escaped names, sizes, dates, directories first', async () => {
      const r = await fetchRaw(listing.port, '/list/');
      expect(r.status).toBe(200);
      const html = r.body.toString();
      expect(html).toContain('Index of /list/');
      expect(html).not.toContain('<img');
      expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;.txt');
      expect(html).toContain('href="./%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.txt"');
      expect(html).toContain('title="4 bytes"');
      expect(html).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
      expect(html).not.toContain('.hidden');
      expect(html.indexOf('nested/')).toBeLessThan(html.indexOf('a.txt'));
    });

    it('lists as JSON for a client that asks for it', async () => {
      const r = await fetchRaw(listing.port, '/list/', { headers: { accept: 'application/json' } });
      const body = JSON.parse(r.body.toString()) as { entries: { name: string }[] };
      expect(body.entries.map((e) => e.name)).toEqual([
        'nested',
        '<img src=x onerror=alert(1)>.txt',
        'a.txt',
      ]);
    });

    it('lists at most STATIC_LISTING_MAX_ENTRIES entries and says so', async () => {
      await writeTree(root.dir, { 'list/b.txt': 'b' });
      const r = await fetchRaw(listing.port, '/list/', { headers: { accept: 'application/json' } });
      const body = JSON.parse(r.body.toString()) as { truncated: boolean; entries: unknown[] };
      expect(body.entries).toHaveLength(3);
      expect(body.truncated).toBe(true);
      expect((await fetchRaw(listing.port, '/list/')).body.toString()).toContain(
        'more entries than the server lists',
      );
    });

    it('still serves index.html where there is one', async () => {
      expect((await fetchRaw(listing.port, '/sub/')).body.toString()).toBe('<h1>sub</h1>');
    });

    it('does not list a symlinked directory outside the root', async () => {
      expect((await fetchRaw(listing.port, '/leakdir/')).status).toBe(404);
    });
  });

  describe('limits', () => {
    it('cuts off a client that reads nothing for STATIC_SEND_TIMEOUT', async () => {
      const dir = await tempDir();
      try {
        // Sparse: 256 MiB of zeros that take no disk, more than loopback socket buffers hold.
        await writeFile(join(dir.dir, 'big.bin'), '');
        await truncate(join(dir.dir, 'big.bin'), 256 * 1024 * 1024);
        const s = await startStatic(dir.dir, { sendTimeoutMs: 300 });
        const socket = connect(s.port, '127.0.0.1');
        try {
          socket.on('error', () => undefined);
          socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
          socket.pause(); // read nothing: the server's writes stall
          const connections = () =>
            new Promise<number>((resolve) => s.server.getConnections((_e, n) => resolve(n)));
          await waitFor('the connection to be open', async () => (await connections()) === 1);
          await waitFor(
            'the server to cut the stalled client',
            async () => (await connections()) === 0,
            {
              timeoutMs: 5000,
            },
          );
        } finally {
          socket.destroy();
          await s.close();
        }
      } finally {
        await dir.dispose();
      }
    });
  });
});
