import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseK6Summary,
  parseMarkdownSummary,
  readLatestRun,
  resolveResultFile,
  timeFromRunName,
} from '../../src/dashboard/load-results';

describe('the last load test', () => {
  let dir: string;
  let outside: string;

  beforeAll(() => {
    const root = mkdtempSync(join(tmpdir(), 'netlab-results-'));
    dir = join(root, 'results');
    outside = join(root, 'secret.md');
    writeFileSync(outside, '# secret\n');
    mkdirSync(join(dir, '2026-11-23T22-34-33-922Z-static'), { recursive: true });
    writeFileSync(join(dir, '2026-11-23T22-34-33-922Z-static', 'report.md'), '# old\n');
    const run = join(dir, '2026-11-24T01-02-03-004Z-mixed');
    mkdirSync(run);
    writeFileSync(
      join(run, 'summary.md'),
      [
        '# mixed: the whole lab',
        '',
        '| metric | value |',
        '| --- | ---: |',
        '| **req/s** | 1,234 |',
        '| p95 | `12 ms` |',
        '',
        'text after',
      ].join('\n'),
    );
    writeFileSync(
      join(run, 'summary.json'),
      JSON.stringify({
        state: { testRunDurationMs: 30000 },
        metrics: {
          http_reqs: { type: 'counter', values: { count: 3000, rate: 100 } },
          http_req_duration: {
            values: { med: 4, 'p(90)': 8, 'p(95)': 9, 'p(99)': 20, max: 50 },
            thresholds: { 'p(95)<500': { ok: true }, 'p(99)<10': { ok: false } },
          },
          http_req_failed: { values: { rate: 0.01 } },
          checks: { values: { passes: 10, fails: 1 } },
        },
      }),
    );
    writeFileSync(join(run, 'report.html'), '<html>report</html>');
    writeFileSync(join(run, 'notes.exe'), 'no');
    symlinkSync(outside, join(run, 'link.md'));
  });

  afterAll(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  it('summarises the newest run folder: k6 figures, the markdown table, the report link', async () => {
    const state = await readLatestRun(dir);
    expect(state.ok).toBe(true);
    if (!state.ok) return;
    expect(state.runs).toBe(2);
    const run = state.run!;
    expect(run.name).toBe('2026-11-24T01-02-03-004Z-mixed');
    expect(run.at).toBe('2026-11-24T01:02:03.004Z');
    expect(run.title).toBe('mixed: the whole lab');
    expect(run.table).toEqual({
      header: ['metric', 'value'],
      rows: [
        ['req/s', '1,234'],
        ['p95', '12 ms'],
      ],
    });
    expect(run.k6).toMatchObject({ requests: 3000, rps: 100, failedRate: 0.01, p95: 9, p99: 20 });
    expect(run.k6!.thresholds).toEqual([
      { metric: 'http_req_duration', threshold: 'p(95)<500', ok: true },
      { metric: 'http_req_duration', threshold: 'p(99)<10', ok: false },
    ]);
    expect(run.report?.href).toBe(
      '/-/dashboard/results/2026-11-24T01-02-03-004Z-mixed/report.html',
    );
    // Unknown extensions are not listed.
    expect(run.files.map((f) => f.name)).not.toContain('notes.exe');
  });

  it('says so when the folder does not exist or holds no run', async () => {
    const missing = await readLatestRun(join(dir, 'nope'));
    expect(!missing.ok && missing.error).toMatch(/no load test/);
    const empty = mkdtempSync(join(tmpdir(), 'netlab-empty-'));
    try {
      expect(await readLatestRun(empty)).toMatchObject({ ok: true, run: null, runs: 0 });
    } finally {
      rmSync(empty, { recursive: true });
    }
  });

  it('serves only safe names inside the results folder, never through a symlink out', async () => {
    const run = '2026-11-24T01-02-03-004Z-mixed';
    await expect(resolveResultFile(dir, run, 'report.html')).resolves.toMatchObject({
      contentType: 'text/html; charset=utf-8',
    });
    for (const [r, f] of [
      ['..', 'secret.md'],
      [run, '..'],
      [run, '../../secret.md'],
      ['.', 'x.md'],
      [run, 'link.md'],
      [run, 'notes.exe'],
      [run, 'missing.md'],
      [run, '.hidden.md'],
    ] as const) {
      await expect(resolveResultFile(dir, r, f)).resolves.toBeUndefined();
    }
  });

  it('reads k6 --summary-export files too', () => {
    expect(
      parseK6Summary({
        metrics: {
          http_reqs: { count: 5, rate: 1 },
          http_req_duration: { med: 1, 'p(95)': 2, thresholds: { 'p(95)<1': true } },
        },
      }),
    ).toMatchObject({ requests: 5, p50: 1, p95: 2, thresholds: [{ ok: false }] });
    expect(parseK6Summary({})).toBeNull();
  });

  it('parses run names and markdown without a table', () => {
    expect(timeFromRunName('2026-11-24T00-08-31-536Z-static')).toBe('2026-11-24T00:08:31.536Z');
    expect(timeFromRunName('mine')).toBeUndefined();
    expect(parseMarkdownSummary('# only a title\n')).toEqual({
      title: 'only a title',
      table: null,
    });
  });
});
