import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { waitFor } from '@netlab/shared/testing';
import { startFetcher, type FetcherProcess } from './fixtures/fetcher-process';

/**
 * 20 parallel 1 GiB downloads streamed through one fetcher process (`POST /fetch/stream`): its
 * resident memory, read from /proc while the bytes flow, stays under RSS_BOUND_MIB. The bytes
 * come from a generator process that writes one preallocated 1 MiB buffer over and over, and
 * curl throws them away as they arrive; the fetcher's own CPU is about half idle meanwhile: the
 * wall time is four kernel copies of 20 GiB on a shared 2-core machine.
 */

const STREAMS = 20;
const SIZE = 1024 ** 3;
/** The bound the README names: the whole fetcher process, not a delta. */
export const RSS_BOUND_MIB = 512;

const GENERATOR = `
const http = require('node:http');
const block = Buffer.alloc(1 << 20, 0x61);
const server = http.createServer((req, res) => {
  const size = Number(new URL(req.url, 'http://x').searchParams.get('n'));
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
  let sent = 0;
  const pump = () => {
    while (sent < size) {
      const n = Math.min(block.length, size - sent);
      sent += n;
      if (!res.write(n === block.length ? block : block.subarray(0, n))) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

let generator: ChildProcess;
let generatorPort: number;
let fetcher: FetcherProcess;

beforeAll(async () => {
  generator = spawn(process.execPath, ['-e', GENERATOR], { stdio: ['ignore', 'pipe', 'inherit'] });
  generatorPort = await new Promise<number>((resolve, reject) => {
    generator.stdout!.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim())));
    generator.once('exit', () => reject(new Error('the generator exited')));
  });
  fetcher = await startFetcher({ FETCH_ALLOW: '127.0.0.1' });
}, 30_000);

afterAll(async () => {
  await fetcher?.stop();
  generator?.kill();
});

function streamOne(n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ url: `http://127.0.0.1:${generatorPort}/?n=${n}` });
    const r = request(
      `${fetcher.url}/fetch/stream`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve(bytes));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

/**
 * curl, all transfers in one process (-Z), writing to /dev/null: it reads faster than a Node
 * client would, which keeps this test's wall time down. Resolves with each transfer's size.
 */
function streamAll(n: number, count: number): Promise<number[]> {
  const body = JSON.stringify({ url: `http://127.0.0.1:${generatorPort}/?n=${n}` });
  const one = [
    '-X',
    'POST',
    '-H',
    'content-type: application/json',
    '-d',
    body,
    '-o',
    '/dev/null',
    `${fetcher.url}/fetch/stream`,
  ];
  const args = ['-sS', '-Z', '--parallel-max', String(count), '-w', '%{size_download}\n'];
  for (let i = 0; i < count; i++)
    args.push(...(i === 0 ? [] : ['--next', '-w', '%{size_download}\n']), ...one);
  return new Promise((resolve, reject) => {
    const curl = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    curl.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    curl.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    curl.once('error', reject);
    curl.once('exit', (code) => {
      if (code !== 0) reject(new Error(`curl exited with ${code}: ${err}`));
      else resolve(out.trim().split('\n').map(Number));
    });
  });
}

describe('memory while streaming', () => {
  it(`stays under ${RSS_BOUND_MIB} MiB RSS for ${STREAMS} parallel 1 GiB downloads`, async () => {
    const pid = fetcher.proc.pid!;
    await streamOne(16 * 1024 * 1024);
    const baseline = rssMiB(pid);
    let peak = baseline;
    let samples = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMiB(pid));
      samples += 1;
    }, 100);
    const started = Date.now();
    try {
      const sizes = await streamAll(SIZE, STREAMS);
      expect(sizes).toEqual(new Array<number>(STREAMS).fill(SIZE));
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(
      `fetcher RSS: baseline ${baseline.toFixed(1)} MiB, peak ${peak.toFixed(1)} MiB over ${samples} samples; ` +
        `${STREAMS} GiB in ${seconds.toFixed(1)} s (${((STREAMS * 1024) / seconds).toFixed(0)} MiB/s)\n`,
    );
    expect(samples).toBeGreaterThan(3);
    expect(peak).toBeLessThan(RSS_BOUND_MIB);
    await waitFor('every slot to be released', async () => {
      const res = await fetch(`${fetcher.url}/metrics`);
      return /fetcher_fetches_running\S* 0\b/.test(await res.text());
    });
  }, 240_000);
});
