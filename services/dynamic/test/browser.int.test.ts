import { createServer, type Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { connectNats, subjects, type NatsClient } from '@netlab/shared';
import {
  launchChromium,
  listen,
  silentLogger,
  startNatsServer,
  type NatsServerHandle,
} from '@netlab/shared/testing';
import { call, startTestApp, type TestApp } from './harness';

jest.setTimeout(60_000);

describe('the stock pages in a real Chromium', () => {
  let nats: NatsServerHandle;
  let client: NatsClient;
  let upstream: Server;
  let quotes: unknown = [];
  let t: TestApp;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: false });
    client = await connectNats({
      servers: [nats.url],
      name: 'browser-test',
      logger: silentLogger(),
      maxPendingBytes: 1 << 20,
    });
    upstream = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(quotes)),
    );
    const { port } = await listen(upstream, 0, '127.0.0.1');
    // Stands in for the fetcher: replies to netlab.fetcher.fetch with the upstream's body.
    client.nc.subscribe(subjects.fetcherFetch, {
      callback: (_e, msg) => {
        void fetch(msg.json<{ url: string }>().url).then(async (res) =>
          msg.respond(JSON.stringify({ status: res.status, body: { text: await res.text() } })),
        );
      },
    });
    t = await startTestApp({
      nats: client,
      env: { QUOTES_URL: `http://127.0.0.1:${port}/quotes.json` },
    });
    browser = await launchChromium();
    page = await browser.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    upstream?.close();
    await client?.close();
    await nats?.dispose();
  });

  const row = (code: string) => page.locator(`tr[data-code="${code}"]`);

  it('follows a stock from /index.html, edits its note on /center.html and removes it', async () => {
    await page.goto(`${t.base}/index.html?q=Lotus`);
    await row('300843').getByRole('button', { name: 'Follow Lotus Media' }).click();
    await page.waitForURL(/notice=followed/);
    await expect(page.locator('.notice').textContent()).resolves.toBe('Now following 300843.');
    await expect(row('300843').locator('a.followed').count()).resolves.toBe(1);

    await page.getByRole('link', { name: 'Followed', exact: true }).click();
    await page.waitForURL(/center\.html$/);
    await page.getByLabel('Note for Lotus Media').fill('buy below 40 <b>');
    await row('300843').getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/notice=saved/);
    await expect(page.getByLabel('Note for Lotus Media').inputValue()).resolves.toBe(
      'buy below 40 <b>',
    );
    expect((await call<{ note: string }>(t.base, 'GET', '/api/focus/300843')).json.note).toBe(
      'buy below 40 <b>',
    );

    await row('300843').getByRole('button', { name: 'Remove Lotus Media' }).click();
    await page.waitForURL(/notice=removed/);
    await expect(page.locator('.notice').textContent()).resolves.toBe('Stopped following 300843.');
    await expect(row('300843').count()).resolves.toBe(0);
  });

  it('shows a quote refresh on the open pages without a reload (SSE on the list, WebSocket on the followed)', async () => {
    await page.goto(`${t.base}/index.html?q=300843`);
    await page.locator('#live-status[data-state="on"]').waitFor();
    await page.evaluate('window.notReloaded = true');
    quotes = [{ code: '300843', price: 47.5, changePct: 18.07 }];
    expect((await call(t.base, 'POST', '/api/quotes/refresh')).status).toBe(200);
    await row('300843')
      .locator('td.price', { hasText: /^47\.50$/ })
      .waitFor();
    await expect(row('300843').locator('td.change').textContent()).resolves.toBe('+18.07%');
    await expect(page.evaluate('window.notReloaded')).resolves.toBe(true);

    await call(t.base, 'POST', '/api/focus', { code: '300843' });
    await page.goto(`${t.base}/center.html`);
    await page.locator('#live-status[data-state="on"]').waitFor();
    await expect(page.locator('#live-status').textContent()).resolves.toBe('live (WebSocket)');
    quotes = [{ code: '300843', price: 39.99, changePct: -0.6 }];
    // The refresh button of the list page, posted as a form from another tab.
    const other = await browser.newPage();
    await other.goto(`${t.base}/index.html`);
    await other.getByRole('button', { name: 'Refresh quotes' }).click();
    await other.waitForURL(/notice=refreshed/);
    await expect(other.locator('.notice').textContent()).resolves.toBe(
      'Quotes refreshed: 1 price(s) changed.',
    );
    await row('300843')
      .locator('td.price', { hasText: /^39\.99$/ })
      .waitFor();
    await other.close();
  });
});
