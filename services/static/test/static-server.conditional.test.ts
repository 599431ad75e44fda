import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { StaticServerOptions } from '../src/config';
import { fetchRaw, setMtime, startStatic, tempDir, writeTree, type RunningStatic } from './fixture';

// RFC 9110 §13: every precondition, alone and in the combinations whose order §13.2.2 fixes.
// Each case runs twice: served from the in-memory cache and streamed from disk.

const MTIME = new Date('2020-01-01T00:00:00Z');
const LAST_MODIFIED = 'Wed, 01 Jan 2020 00:00:00 GMT';
const BEFORE = 'Tue, 31 Dec 2019 23:59:59 GMT';
const AFTER = 'Thu, 02 Jan 2020 00:00:00 GMT';
const BODY = Buffer.from('conditional requests\n');

const modes: [string, Partial<StaticServerOptions>][] = [
  ['from the cache', {}],
  ['streamed from disk', { cacheMaxBytes: 0 }],
];

describe.each(modes)('conditional requests, %s', (_mode, overrides) => {
  let root: { dir: string; dispose: () => Promise<void> };
  let server: RunningStatic;
  let etag: string;

  beforeAll(async () => {
    root = await tempDir();
    await writeTree(root.dir, {
      'page.txt': BODY,
      'app.js': 'console.log(1);\n'.repeat(50),
      'app.js.gz': gzipSync('console.log(1);\n'.repeat(50)),
    });
    await setMtime(join(root.dir, 'page.txt'), MTIME);
    server = await startStatic(root.dir, overrides);
    etag = (await fetchRaw(server.port, '/page.txt')).headers.etag ?? '';
  });
  afterAll(async () => {
    await server.close();
    await root.dispose();
  });

  const get = (headers: Record<string, string>, method = 'GET', path = '/page.txt') =>
    fetchRaw(server.port, path, { method, headers });

  it('sends a strong ETag and Last-Modified with a 200', async () => {
    const r = await get({});
    expect(r.status).toBe(200);
    expect(r.headers.etag).toMatch(/^"[^"]+"$/);
    expect(r.headers['last-modified']).toBe(LAST_MODIFIED);
    expect(r.headers['cache-control']).toBe('public, max-age=0');
    expect(r.body).toEqual(BODY);
  });

  it('answers 304 without a body for If-None-Match with the current ETag', async () => {
    const r = await get({ 'if-none-match': etag });
    expect(r.status).toBe(304);
    expect(r.body.length).toBe(0);
    expect(r.headers.etag).toBe(etag);
    expect(r.headers['last-modified']).toBe(LAST_MODIFIED);
    expect(r.headers['cache-control']).toBe('public, max-age=0');
    expect(r.headers['content-type']).toBeUndefined();
  });

  it('answers 304 for If-None-Match with the weak form of the ETag (weak comparison)', async () => {
    expect((await get({ 'if-none-match': `W/${etag}` })).status).toBe(304);
  });

  it('answers 304 when the ETag is one of a list in If-None-Match', async () => {
    expect((await get({ 'if-none-match': `"a,b", W/"x", ${etag}` })).status).toBe(304);
  });

  it('answers 304 for If-None-Match: *', async () => {
    expect((await get({ 'if-none-match': '*' })).status).toBe(304);
  });

  it('answers 200 for If-None-Match with another ETag', async () => {
    const r = await get({ 'if-none-match': '"something-else"' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(BODY);
  });

  it('answers 304 for If-Modified-Since equal to Last-Modified', async () => {
    expect((await get({ 'if-modified-since': LAST_MODIFIED })).status).toBe(304);
  });

  it('answers 304 for If-Modified-Since after Last-Modified', async () => {
    expect((await get({ 'if-modified-since': AFTER })).status).toBe(304);
  });

  it('answers 200 for If-Modified-Since before Last-Modified', async () => {
    expect((await get({ 'if-modified-since': BEFORE })).status).toBe(200);
  });

  it('ignores an If-Modified-Since that is not a date', async () => {
    expect((await get({ 'if-modified-since': 'yesterday' })).status).toBe(200);
  });

  it('ignores If-Modified-Since when If-None-Match is present (§13.1.3)', async () => {
    const r = await get({ 'if-none-match': '"other"', 'if-modified-since': AFTER });
    expect(r.status).toBe(200);
  });

  it('answers 200 for If-Match with the current ETag', async () => {
    expect((await get({ 'if-match': etag })).status).toBe(200);
  });

  it('answers 200 for If-Match: *', async () => {
    expect((await get({ 'if-match': '*' })).status).toBe(200);
  });

  it('answers 412 for If-Match with another ETag', async () => {
    const r = await get({ 'if-match': '"other"' });
    expect(r.status).toBe(412);
    expect(r.body.toString()).toContain('STATIC_PRECONDITION_FAILED');
  });

  it('answers 412 for If-Match with the weak form of the ETag (strong comparison)', async () => {
    expect((await get({ 'if-match': `W/${etag}` })).status).toBe(412);
  });

  it('answers 200 for If-Unmodified-Since equal to Last-Modified', async () => {
    expect((await get({ 'if-unmodified-since': LAST_MODIFIED })).status).toBe(200);
  });

  it('answers 412 for If-Unmodified-Since before Last-Modified', async () => {
    expect((await get({ 'if-unmodified-since': BEFORE })).status).toBe(412);
  });

  it('ignores an If-Unmodified-Since that is not a date', async () => {
    expect((await get({ 'if-unmodified-since': 'soon' })).status).toBe(200);
  });

  it('ignores If-Unmodified-Since when If-Match is present (§13.2.2 step 2)', async () => {
    expect((await get({ 'if-match': etag, 'if-unmodified-since': BEFORE })).status).toBe(200);
  });

  it('evaluates If-Match before If-None-Match: 412 wins over 304', async () => {
    expect((await get({ 'if-match': '"other"', 'if-none-match': etag })).status).toBe(412);
  });

  it('answers a HEAD with If-None-Match with 304', async () => {
    expect((await get({ 'if-none-match': etag }, 'HEAD')).status).toBe(304);
  });

  it('answers 412 as problem+json when the client asks for JSON', async () => {
    const r = await get({ 'if-match': '"other"', accept: 'application/json' });
    expect(r.status).toBe(412);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(r.body.toString())).toMatchObject({
      status: 412,
      code: 'STATIC_PRECONDITION_FAILED',
    });
  });

  it('answers 404, not 412 or 304, for preconditions on a missing file (§13.2.1)', async () => {
    expect((await get({ 'if-match': '*' }, 'GET', '/missing.txt')).status).toBe(404);
    expect((await get({ 'if-none-match': '*' }, 'GET', '/missing.txt')).status).toBe(404);
  });

  it('repeats Vary: Accept-Encoding in a 304 of a precompressed file', async () => {
    const first = await get({ 'accept-encoding': 'gzip' }, 'GET', '/app.js');
    expect(first.headers['content-encoding']).toBe('gzip');
    const r = await get(
      { 'accept-encoding': 'gzip', 'if-none-match': first.headers.etag ?? '' },
      'GET',
      '/app.js',
    );
    expect(r.status).toBe(304);
    expect(r.headers.vary).toBe('Accept-Encoding');
  });

  it('gives the gzip representation an ETag of its own', async () => {
    const plain = await get({}, 'GET', '/app.js');
    const gzip = await get({ 'accept-encoding': 'gzip' }, 'GET', '/app.js');
    expect(gzip.headers.etag).not.toBe(plain.headers.etag);
    expect(
      (await get({ 'if-none-match': plain.headers.etag ?? '' }, 'GET', '/app.js')).status,
    ).toBe(304);
    const cross = await get(
      { 'accept-encoding': 'gzip', 'if-none-match': plain.headers.etag ?? '' },
      'GET',
      '/app.js',
    );
    expect(cross.status).toBe(200);
  });

  it('changes the ETag when the file changes, so the old one no longer matches', async () => {
    await writeFile(join(root.dir, 'changing.txt'), 'one');
    const first = await get({}, 'GET', '/changing.txt');
    await writeFile(join(root.dir, 'changing.txt'), 'two!');
    const r = await get({ 'if-none-match': first.headers.etag ?? '' }, 'GET', '/changing.txt');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('two!');
    expect(r.headers.etag).not.toBe(first.headers.etag);
  });
});
