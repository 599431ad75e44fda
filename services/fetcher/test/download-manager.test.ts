import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, waitFor } from '@netlab/shared/testing';
import { createDownloadManager, parseDownloadStart } from '../src/download-manager';
import { makeCore, req, startUpstream, type TestCore, type Upstream } from './fixtures/fetcher';
import { createRoutes, type Routes } from './fixtures/routes';

let routes: Routes;
let up: Upstream;
let core: TestCore;
let dir: string;

beforeAll(async () => {
  routes = createRoutes();
  up = await startUpstream(routes.handler);
  core = makeCore({ FETCH_ALLOW: '127.0.0.1' });
  dir = mkdtempSync(join(tmpdir(), 'netlab-downloads-'));
});

afterAll(async () => {
  routes.close();
  await core.close();
  await up.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the download manager', () => {
  it('tells when a record appears and when it leaves FETCH_DOWNLOAD_HISTORY (NATS subjects follow)', async () => {
    const seen: [string, boolean][] = [];
    const downloads = createDownloadManager({
      engine: core.engine,
      dir,
      maxActive: 4,
      maxRecords: 1,
      progressIntervalMs: 50,
      logger: silentLogger(),
      onRecord: (id, present) => seen.push([id, present]),
    });
    const first = downloads.start(req({ url: `${up.url}/bytes?n=1000` }));
    await waitFor('the first download', () => downloads.get(first.id)?.state === 'done');
    const second = downloads.start(req({ url: `${up.url}/bytes?n=1000` }));
    await waitFor('the second download', () => downloads.get(second.id)?.state === 'done');
    expect(seen).toEqual([
      [first.id, true],
      [second.id, true],
      [first.id, false],
    ]);
    expect(downloads.get(first.id)).toBeUndefined();
    await downloads.close();
  });

  it('reads a download request as the envelope plus its download options', () => {
    const { envelope, options } = parseDownloadStart({
      url: 'http://example.org/a.iso',
      download: { filename: 'a.iso', sha256: false },
    });
    expect([envelope.url, options]).toEqual([
      'http://example.org/a.iso',
      { filename: 'a.iso', sha256: false },
    ]);
    expect(() => parseDownloadStart({ url: 'http://x/', download: 'a.iso' })).toThrow(
      expect.objectContaining({ code: 'FETCH_INVALID_REQUEST' }) as Error,
    );
  });
});
