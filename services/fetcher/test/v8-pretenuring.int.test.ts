import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listen } from '@netlab/shared/testing';
import { startFetcher } from './fixtures/fetcher-process';

/**
 * The fetcher turns V8's allocation-site pretenuring off as it starts (src/main.ts, DECISIONS.md
 * #67), seen from outside through V8's own trace: with it off, V8 weighs no pretenuring feedback,
 * so no "pretenuring:" line follows the "fetcher listening" line however many fetches are served;
 * with `--allocation-site-pretenuring` on the command line (V8's default kept, as the fetcher
 * allows) the same fetches are followed by such lines, which shows the probe can see them.
 */

const FETCHES = 1000;
const CONCURRENCY = 16;
const TRACE = '--trace-pretenuring-statistics';
/** A small young generation: a scavenge every few dozen fetches, so that the load has many. */
const SMALL_YOUNG_GENERATION = '--max-semi-space-size=1';

let upstream: Server;
let upstreamUrl: string;

beforeAll(async () => {
  const kib = 'x'.repeat(1023) + '\n';
  upstream = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(kib);
  });
  await listen(upstream, 0, '127.0.0.1');
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/1k.txt`;
});

afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

/** Trace lines of V8's pretenuring after the fetcher listened and served FETCHES fetches. */
async function pretenuringLinesUnderLoad(nodeArgs: string[]): Promise<number> {
  const fetcher = await startFetcher({ FETCH_ALLOW: '127.0.0.1' }, [
    SMALL_YOUNG_GENERATION,
    TRACE,
    ...nodeArgs,
  ]);
  try {
    const listenedAt = fetcher.stdoutLines.length;
    let left = FETCHES;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (left-- > 0) {
          const res = await fetch(`${fetcher.url}/fetch`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ url: upstreamUrl }),
          });
          expect(((await res.json()) as { status: number }).status).toBe(200);
        }
      }),
    );
    // V8 writes through C's stdout: what it buffered is out once the process has exited.
    expect(await fetcher.stop()).toBe(0);
    return fetcher.stdoutLines.slice(listenedAt).filter((l) => l.includes('pretenuring:')).length;
  } finally {
    await fetcher.stop('SIGKILL');
  }
}

describe('V8 allocation-site pretenuring in the fetcher process', () => {
  it('is off: no pretenuring feedback is weighed while fetches are served', async () => {
    expect(await pretenuringLinesUnderLoad([])).toBe(0);
  }, 30_000);

  it('stays on when the command line asks for it (the probe sees it then)', async () => {
    expect(await pretenuringLinesUnderLoad(['--allocation-site-pretenuring'])).toBeGreaterThan(0);
  }, 30_000);
});
