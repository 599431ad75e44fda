import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@netlab/shared/testing';
import { crc32, deflateSync } from 'node:zlib';
import type { StaticServerOptions } from '../src/config';
import { fetchRaw, startStatic, tempDir, writeTree, type RunningStatic } from './fixture';

// Files are bytes: the lesson's text-mode read corrupts images. Every file must come back
// byte-identical with an exact Content-Length, from the cache and streamed from disk.

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A real 16×16 RGB PNG: signature, IHDR, IDAT, IEND. */
function png(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(16, 0);
  ihdr.writeUInt32BE(16, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc(16 * (1 + 16 * 3));
  for (let y = 0; y < 16; y += 1) {
    for (let x = 0; x < 16; x += 1) rows.set([x * 16, y * 16, 0x80], y * 49 + 1 + x * 3);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(rows)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const FILES: Record<string, Buffer> = {
  'image.png': png(),
  'empty.bin': Buffer.alloc(0),
  'random.bin': randomBytes(1024 * 1024),
  'utf16.txt': Buffer.concat([
    Buffer.from([0xff, 0xfe]),
    Buffer.from('Grüße, 世界 — ☃\r\n', 'utf16le'),
  ]),
  'all-bytes.bin': Buffer.from(Array.from({ length: 256 * 4 }, (_, i) => i % 256)),
  'crlf.txt': Buffer.from('line\r\nline\rline\n\0nul\r\n'),
};

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const modes: [string, Partial<StaticServerOptions>][] = [
  ['from the cache', { cacheMaxFileBytes: 2 * 1024 * 1024 }],
  ['streamed from disk', { cacheMaxBytes: 0 }],
];

describe.each(modes)('binary fidelity, %s', (_mode, overrides) => {
  let root: { dir: string; dispose: () => Promise<void> };
  let server: RunningStatic;
  beforeAll(async () => {
    root = await tempDir();
    await writeTree(root.dir, FILES);
    server = await startStatic(root.dir, overrides);
  });
  afterAll(async () => {
    await server.close();
    await root.dispose();
  });

  it.each(Object.keys(FILES))(
    'serves %s byte-identical with an exact Content-Length',
    async (name) => {
      const expected = FILES[name]!;
      for (let i = 0; i < 2; i += 1) {
        const r = await fetchRaw(server.port, `/${name}`);
        expect(r.status).toBe(200);
        expect(r.headers['content-length']).toBe(String(expected.length));
        expect(r.body.length).toBe(expected.length);
        expect(sha(r.body)).toBe(sha(expected));
      }
    },
  );
});

describe('streaming through pooled buffers', () => {
  it('keeps concurrent downloads of different files apart when buffers are reused', async () => {
    const root = await tempDir();
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 8; i += 1) files[`f${i}.bin`] = randomBytes(512 * 1024 + i * 1111);
    await writeTree(root.dir, files);
    // Small chunks and no cache: each download is ~130 reads through a pool shared by all.
    const server = await startStatic(root.dir, { cacheMaxBytes: 0, chunkBytes: 4096 });
    try {
      for (let round = 0; round < 2; round += 1) {
        const replies = await Promise.all(
          Object.keys(files).map((name) => fetchRaw(server.port, `/${name}`)),
        );
        replies.forEach((r, i) => expect(sha(r.body)).toBe(sha(files[`f${i}.bin`]!)));
      }
    } finally {
      await server.close();
      await root.dispose();
    }
  });

  it('closes the file when a client leaves while a chunk read ahead waits for the socket', async () => {
    const root = await tempDir();
    const body = randomBytes(8 * 1024 * 1024);
    await writeTree(root.dir, { 'big.bin': body });
    const server = await startStatic(root.dir, { cacheMaxBytes: 0, chunkBytes: 4096 });
    const openFds = () => readdirSync('/proc/self/fd').length;
    try {
      await fetchRaw(server.port, '/big.bin');
      const baseline = openFds();
      for (let i = 0; i < 5; i += 1) {
        // The client reads the head, then stops: the socket fills, the server parks one chunk
        // read ahead and waits for 'drain', which never comes; then the client leaves.
        const socket = connect(server.port, '127.0.0.1');
        socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
        await new Promise((resolve) => socket.once('data', resolve));
        socket.pause();
        await sleep(100);
        socket.destroy();
      }
      await waitFor('the aborted responses to close their files', () => openFds() <= baseline);
      // The server still serves every byte afterwards.
      expect(sha((await fetchRaw(server.port, '/big.bin')).body)).toBe(sha(body));
    } finally {
      await server.close();
      await root.dispose();
    }
  });
});
