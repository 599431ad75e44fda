import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { StaticServerOptions } from '../src/config';
import {
  fetchRaw,
  parseMultipart,
  setMtime,
  startStatic,
  tempDir,
  writeTree,
  type RunningStatic,
} from './fixture';

// RFC 9110 §14: single, suffix and multiple ranges, If-Range, 416, the cap on ranges.
// Each case runs twice: served from the in-memory cache and streamed from disk.

const SIZE = 1000;
const DATA = Buffer.from(Array.from({ length: SIZE }, (_, i) => (i * 7 + 3) % 256));
const MTIME = new Date('2020-01-01T00:00:00Z');
const LAST_MODIFIED = 'Wed, 01 Jan 2020 00:00:00 GMT';
const MAX_RANGES = 4;
const GZ = gzipSync(Buffer.alloc(5000, 'static '));

const modes: [string, Partial<StaticServerOptions>][] = [
  ['from the cache', { maxRanges: MAX_RANGES }],
  ['streamed from disk', { maxRanges: MAX_RANGES, cacheMaxBytes: 0, chunkBytes: 4096 }],
];

describe.each(modes)('range requests, %s', (_mode, overrides) => {
  let root: { dir: string; dispose: () => Promise<void> };
  let server: RunningStatic;
  let etag: string;

  beforeAll(async () => {
    root = await tempDir();
    await writeTree(root.dir, {
      'data.bin': DATA,
      'empty.bin': Buffer.alloc(0),
      'text.txt': Buffer.alloc(5000, 'static '),
      'text.txt.gz': GZ,
    });
    await setMtime(join(root.dir, 'data.bin'), MTIME);
    server = await startStatic(root.dir, overrides);
    etag = (await fetchRaw(server.port, '/data.bin')).headers.etag ?? '';
  });
  afterAll(async () => {
    await server.close();
    await root.dispose();
  });

  const get = (headers: Record<string, string>, path = '/data.bin', method = 'GET') =>
    fetchRaw(server.port, path, { method, headers });

  const expectSingle = async (range: string, start: number, end: number) => {
    const r = await get({ range });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/${SIZE}`);
    expect(r.headers['content-length']).toBe(String(end - start + 1));
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.body).toEqual(DATA.subarray(start, end + 1));
  };

  const expectWhole = async (headers: Record<string, string>) => {
    const r = await get(headers);
    expect(r.status).toBe(200);
    expect(r.headers['content-range']).toBeUndefined();
    expect(r.body).toEqual(DATA);
  };

  it('advertises Accept-Ranges: bytes', async () => {
    expect((await get({})).headers['accept-ranges']).toBe('bytes');
  });

  it('answers 206 with Content-Range bytes 0-9/1000 for bytes=0-9', () =>
    expectSingle('bytes=0-9', 0, 9));

  it('answers 206 for an open-ended range bytes=990-', () => expectSingle('bytes=990-', 990, 999));

  it('answers 206 with the last 10 bytes for the suffix range bytes=-10', () =>
    expectSingle('bytes=-10', 990, 999));

  it('answers 206 with the whole file for a suffix longer than the file', () =>
    expectSingle('bytes=-2000', 0, 999));

  it('clips a last-pos beyond the end: bytes=995-2000 is 995-999', () =>
    expectSingle('bytes=995-2000', 995, 999));

  it('answers one byte for bytes=0-0', () => expectSingle('bytes=0-0', 0, 0));

  it('answers the last byte for bytes=999-999', () => expectSingle('bytes=999-999', 999, 999));

  it('accepts whitespace around a range (OWS)', () => expectSingle('bytes= 5 - 9 ', 5, 9));

  it('answers 416 with Content-Range bytes */1000 for bytes=1000-', async () => {
    const r = await get({ range: 'bytes=1000-' });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe(`bytes */${SIZE}`);
    expect(r.body.toString()).toContain('STATIC_RANGE_NOT_SATISFIABLE');
  });

  it('answers 416 for the zero-length suffix bytes=-0', async () => {
    const r = await get({ range: 'bytes=-0' });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe(`bytes */${SIZE}`);
  });

  it('answers 416 as problem+json when the client asks for JSON', async () => {
    const r = await get({ range: 'bytes=5000-6000', accept: 'application/problem+json' });
    expect(r.status).toBe(416);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(r.body.toString())).toMatchObject({ code: 'STATIC_RANGE_NOT_SATISFIABLE' });
  });

  it('ignores a range whose last-pos is before its first-pos (200, whole file)', () =>
    expectWhole({ range: 'bytes=5-1' }));

  it('ignores a Range that does not parse (200, whole file)', () =>
    expectWhole({ range: 'bytes=abc' }));

  it('ignores a Range in another unit (200, whole file)', () =>
    expectWhole({ range: 'items=0-9' }));

  it('answers multipart/byteranges for two disjoint ranges, with an exact Content-Length', async () => {
    const r = await get({ range: 'bytes=0-9,20-29' });
    expect(r.status).toBe(206);
    expect(r.headers['content-type']).toMatch(/^multipart\/byteranges; boundary=\w+$/);
    expect(r.headers['content-length']).toBe(String(r.body.length));
    const parts = parseMultipart(r.body, r.headers['content-type']);
    expect(parts.map((p) => p.headers['content-range'])).toEqual([
      `bytes 0-9/${SIZE}`,
      `bytes 20-29/${SIZE}`,
    ]);
    expect(parts[0]?.headers['content-type']).toBe('application/octet-stream');
    expect(parts[0]?.data).toEqual(DATA.subarray(0, 10));
    expect(parts[1]?.data).toEqual(DATA.subarray(20, 30));
  });

  it('keeps the requested order of disjoint ranges: bytes=50-59,0-9', async () => {
    const r = await get({ range: 'bytes=50-59, 0-9' });
    const parts = parseMultipart(r.body, r.headers['content-type']);
    expect(parts.map((p) => p.headers['content-range'])).toEqual([
      `bytes 50-59/${SIZE}`,
      `bytes 0-9/${SIZE}`,
    ]);
    expect(parts[0]?.data).toEqual(DATA.subarray(50, 60));
  });

  it('coalesces overlapping ranges into one: bytes=0-9,5-14 is 0-14', () =>
    expectSingle('bytes=0-9,5-14', 0, 14));

  it('coalesces adjacent ranges into one: bytes=0-9,10-19 is 0-19', () =>
    expectSingle('bytes=0-9,10-19', 0, 19));

  it('drops unsatisfiable ranges from a list and serves the rest', () =>
    expectSingle('bytes=2000-3000,0-4', 0, 4));

  it(`serves ${MAX_RANGES} ranges (the cap) as multipart`, async () => {
    const r = await get({ range: 'bytes=0-0,10-10,20-20,30-30' });
    expect(r.status).toBe(206);
    expect(parseMultipart(r.body, r.headers['content-type'])).toHaveLength(MAX_RANGES);
  });

  it(`ignores a Range with more than ${MAX_RANGES} ranges (200, whole file)`, () =>
    expectWhole({ range: 'bytes=0-0,10-10,20-20,30-30,40-40' }));

  it('honours the Range when If-Range carries the current ETag', async () => {
    const r = await get({ range: 'bytes=0-9', 'if-range': etag });
    expect(r.status).toBe(206);
  });

  it('sends the whole file when If-Range carries another ETag', () =>
    expectWhole({ range: 'bytes=0-9', 'if-range': '"stale"' }));

  it('sends the whole file when If-Range carries a weak ETag (strong comparison)', () =>
    expectWhole({ range: 'bytes=0-9', 'if-range': `W/${etag}` }));

  it('honours the Range when If-Range is exactly the Last-Modified date', async () => {
    expect((await get({ range: 'bytes=0-9', 'if-range': LAST_MODIFIED })).status).toBe(206);
  });

  it('sends the whole file when If-Range is another date', () =>
    expectWhole({ range: 'bytes=0-9', 'if-range': 'Thu, 02 Jan 2020 00:00:00 GMT' }));

  it('ignores If-Range without Range', () => expectWhole({ 'if-range': '"stale"' }));

  it('ignores Range on HEAD: 200 with the full Content-Length and no body', async () => {
    const r = await get({ range: 'bytes=0-9' }, '/data.bin', 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(SIZE));
    expect(r.body.length).toBe(0);
  });

  it('evaluates If-None-Match before Range: 304', async () => {
    expect((await get({ range: 'bytes=0-9', 'if-none-match': etag })).status).toBe(304);
  });

  it('evaluates If-Match before Range: 412', async () => {
    expect((await get({ range: 'bytes=0-9', 'if-match': '"other"' })).status).toBe(412);
  });

  it('answers 416 with bytes */0 for bytes=0- on an empty file', async () => {
    const r = await get({ range: 'bytes=0-' }, '/empty.bin');
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe('bytes */0');
  });

  it('answers 200 with an empty body for a suffix range on an empty file', async () => {
    const r = await get({ range: 'bytes=-5' }, '/empty.bin');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe('0');
  });

  it('cuts a range out of the gzip representation, with Content-Encoding and Vary', async () => {
    const r = await get({ range: 'bytes=0-9', 'accept-encoding': 'gzip' }, '/text.txt');
    expect(r.status).toBe(206);
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.headers.vary).toBe('Accept-Encoding');
    expect(r.headers['content-range']).toBe(`bytes 0-9/${GZ.length}`);
    expect(r.body).toEqual(GZ.subarray(0, 10));
  });

  it('sends the whole gzip representation for several ranges of it', async () => {
    const r = await get({ range: 'bytes=0-9,20-29', 'accept-encoding': 'gzip' }, '/text.txt');
    expect(r.status).toBe(200);
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.body).toEqual(GZ);
  });
});
