import { open, truncate, writeFile } from 'node:fs/promises';
import { get, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchRaw, tempDir } from './fixture';
import { rssOf, startPart, type PartProcess } from './part-process';

jest.setTimeout(60_000);

const GIB = 1024 * 1024 * 1024;
const MARK_EVERY = 128 * 1024 * 1024;
const marker = (k: number) => Buffer.from(`<marker ${String(k).padStart(2, '0')}>`, 'latin1');
/** How much more than its idle RSS the server may use while a slow client holds 1 GiB back. */
const RSS_BOUND = 64 * 1024 * 1024;

describe('a 1 GiB file to a slow client', () => {
  let dir: { dir: string; dispose: () => Promise<void> };
  let part: PartProcess | undefined;

  beforeAll(async () => {
    dir = await tempDir();
    const path = join(dir.dir, 'huge.bin');
    // Sparse: no disk used, zeros except for a marker every 128 MiB to check offsets.
    await writeFile(path, '');
    await truncate(path, GIB);
    const fh = await open(path, 'r+');
    try {
      for (let k = 0; k < GIB / MARK_EVERY; k += 1)
        await fh.write(marker(k), 0, undefined, k * MARK_EVERY);
    } finally {
      await fh.close();
    }
    await writeFile(join(dir.dir, 'small.txt'), 'warm-up');
  });
  afterAll(async () => {
    part?.kill();
    await dir.dispose();
  });

  it('streams every byte in order while the server memory stays bounded', async () => {
    part = startPart(['0', '--root', dir.dir, '--host', '127.0.0.1']);
    const port = await part.listening();
    const { pid } = part;
    await fetchRaw(port, '/small.txt');
    const idle = rssOf(pid);
    let peak = idle;
    const sample = () => (peak = Math.max(peak, rssOf(pid)));

    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/huge.bin', agent: false }, resolve).on(
        'error',
        reject,
      );
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(GIB));
    res.pause();

    let received = 0;
    const seen: number[] = [];
    let tail: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      // A marker may straddle two chunks: look in the previous chunk's tail plus this one.
      const view = Buffer.concat([tail, chunk]);
      const base = received - tail.length;
      for (let at = view.indexOf('<marker '); at !== -1; at = view.indexOf('<marker ', at + 1)) {
        const k = Number(view.toString('latin1', at + 8, at + 10));
        if (at + 11 <= view.length && !seen.includes(k)) {
          expect(base + at).toBe(k * MARK_EVERY);
          seen.push(k);
        }
      }
      received += chunk.length;
      tail = chunk.subarray(Math.max(0, chunk.length - 16));
    };
    res.on('data', onData);
    const ended = new Promise<void>((resolve, reject) => {
      res.on('end', resolve);
      res.on('error', reject);
    });

    // 1. The client reads nothing for a while: without backpressure the server would read the
    //    whole file into memory in this time.
    for (let i = 0; i < 15; i += 1) {
      await sleep(100);
      sample();
    }
    // 2. It reads slowly: a chunk, then a pause, for the first 32 MiB.
    while (received < 32 * 1024 * 1024) {
      res.resume();
      await sleep(2);
      res.pause();
      await sleep(8);
      if (received % (4 * 1024 * 1024) < 65536) sample();
    }
    sample();
    // 3. It reads the rest as fast as it can.
    const sampler = setInterval(sample, 100);
    res.resume();
    await ended.finally(() => clearInterval(sampler));

    expect(received).toBe(GIB);
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(peak - idle).toBeLessThan(RSS_BOUND);

    part.proc.kill('SIGTERM');
    await expect(part.exited).resolves.toEqual({ code: 0, signal: null });
  });
});
