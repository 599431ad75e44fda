import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, waitFor } from '@netlab/shared/testing';
import { repoRoot, startLab, type Lab } from './lab';

jest.setTimeout(180_000);

const ARTIFACTS = join(repoRoot, 'test-results');
const RUN = '2026-11-24T01-02-03-004Z-smoke';

/** Requests the page's model holds for a route (the data behind the route chart). */
const routeRequests = (page: Page, route: string): Promise<number> =>
  page.evaluate((name) => {
    const w = globalThis as unknown as {
      netlabDashboard: {
        model: { routes: Map<string, { points: { requests: number[] } }> };
        charts: Record<string, { data: (number | null)[][]; series: { label: string }[] }>;
      };
    };
    const chart = w.netlabDashboard.charts['chart-routes'];
    if (chart === undefined) return -1;
    // Read from the chart itself: the series labelled with the route, summed.
    const k = chart.series.findIndex((s) => s.label === name);
    if (k < 0) return -1;
    return chart.data[k]!.reduce<number>((a, b) => a + (b ?? 0), 0);
  }, route);

describe('the dashboard in a real Chromium, with the whole lab running', () => {
  let results: string;
  let lab: Lab;
  let browser: Browser;
  let page: Page;
  let gateway: string;

  beforeAll(async () => {
    results = mkdtempSync(join(tmpdir(), 'netlab-dash-results-'));
    mkdirSync(join(results, RUN));
    writeFileSync(
      join(results, RUN, 'summary.md'),
      '# smoke run\n\n| checks | 100% |\n| --- | --- |\n| req/s | 42 |\n',
    );
    writeFileSync(
      join(results, RUN, 'report.html'),
      '<!doctype html><title>r</title><h1>the report</h1>',
    );
    lab = await startLab({ resultsDir: results });
    gateway = await lab.url('gateway');
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  });

  afterAll(async () => {
    await browser?.close();
    await lab?.destroy();
    rmSync(results, { recursive: true, force: true });
  });

  it('shows every service and its instance, nats-server and the last load test', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${gateway}/-/dashboard`);
    await page.locator('#live-status[data-state="live"]').waitFor({ timeout: 15_000 });
    for (const service of ['static', 'dynamic', 'fetcher', 'tcp-echo']) {
      await page
        .locator(
          `[data-service="${service}"] tr[data-instance="${service}-1"][data-state="healthy"]`,
        )
        .waitFor({ timeout: 15_000 });
    }
    await expect(page.locator('#nats-summary').textContent()).resolves.toMatch(/v2\.\d+\.\d+, up /);
    await expect(page.locator('#load-test-body').textContent()).resolves.toContain('smoke run');
    const report = page.getByRole('link', { name: 'Open the report (report.html)' });
    await expect(report.getAttribute('href')).resolves.toBe(
      `/-/dashboard/results/${RUN}/report.html`,
    );
    // The dynamic service's database, from its NATS metadata (the lab's default: SQLite).
    await expect(page.locator('#database').textContent()).resolves.toBe('sqlite');
    expect(errors).toEqual([]);
  });

  it('shows a second static instance within seconds of `netlab scale static 2`, and drops it after scaling back', async () => {
    const up = await lab.cli(['scale', 'static', '2']);
    expect(up.code).toBe(0);
    await page
      .locator('[data-service="static"] tr[data-instance="static-2"][data-state="healthy"]')
      .waitFor({ timeout: 10_000 });
    // The instance's `up` event is in the event tail too.
    await page
      .locator('#event-list li[data-kind="up"]', { hasText: 'static-2' })
      .first()
      .waitFor({ timeout: 10_000 });

    const down = await lab.cli(['scale', 'static', '1']);
    expect(down.code).toBe(0);
    await page
      .locator('[data-service="static"] tr[data-instance="static-2"]')
      .waitFor({ state: 'detached', timeout: 10_000 });
    await expect(page.locator('[data-service="static"] tr[data-instance]').count()).resolves.toBe(
      1,
    );
  });

  it('moves the request-rate chart when traffic goes through the gateway', async () => {
    const before = await routeRequests(page, 'static');
    expect(before).toBeGreaterThanOrEqual(0);
    for (let i = 0; i < 25; i++) {
      const res = await fetch(`${gateway}/lab.css?i=${i}`);
      await res.arrayBuffer();
    }
    const after = await waitFor(
      'the 25 requests in the route chart',
      async () => {
        const n = await routeRequests(page, 'static');
        return n >= before + 25 ? n : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    expect(after).toBeGreaterThanOrEqual(before + 25);
    // The table says the same in words, for those who do not read charts.
    const row = page.locator('#traffic-table tr[data-kind="route"][data-key="static"] td').nth(2);
    await expect(row.textContent()).resolves.not.toBe('0');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  });

  it('is usable from the keyboard: the event tail pauses with a real button', async () => {
    const pause = page.getByRole('button', { name: 'Pause' });
    await pause.focus();
    await page.keyboard.press('Enter');
    await expect(
      page.getByRole('button', { name: 'Resume' }).getAttribute('aria-pressed'),
    ).resolves.toBe('true');
    await page.keyboard.press('Space');
    await expect(pause.getAttribute('aria-pressed')).resolves.toBe('false');
    // Filtering by service narrows the tail to it.
    await page.locator('#event-service').selectOption('static');
    const kinds: (string | null)[] = [];
    for (const item of await page.locator('#event-list li[data-service]').all()) {
      kinds.push(await item.getAttribute('data-service'));
    }
    expect(kinds.length).toBeGreaterThan(0);
    expect(new Set(kinds)).toEqual(new Set(['static']));
  });
});
