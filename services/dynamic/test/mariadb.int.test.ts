import { waitFor } from '@netlab/shared/testing';
import { apiContract } from './api-contract';
import { call, startTestApp, type TestApp } from './harness';
import { startMariaDb, type MariaDbHandle } from './mariadb-server';

jest.setTimeout(60_000);

describe('the REST API on a real MariaDB', () => {
  let db: MariaDbHandle;
  let t: TestApp;
  beforeAll(async () => {
    db = await startMariaDb();
    t = await startTestApp({
      env: {
        DATABASE_URL: db.url,
        DB_CONNECT_TIMEOUT: '1s',
        DB_QUERY_TIMEOUT: '1s',
        DB_POOL_SIZE: '4',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await db?.dispose();
  });

  apiContract(() => t.base);

  it('answers 503 DB_UNAVAILABLE at once while MariaDB is down, and recovers by itself', async () => {
    await db.stop();
    try {
      const down = await call(t.base, 'GET', '/api/stocks?limit=1');
      expect([down.status, down.json.code, down.json.retryable]).toEqual([
        503,
        'DB_UNAVAILABLE',
        true,
      ]);
      expect(down.headers.get('retry-after')).toBe('1');
      expect((await call(t.base, 'POST', '/api/focus', { code: '300843' })).status).toBe(503);
      expect((await call(t.base, 'GET', '/readyz')).status).toBe(503);
    } finally {
      await db.start();
    }
    await waitFor(
      'the API to answer again',
      async () => (await call(t.base, 'GET', '/api/stocks?limit=1')).status === 200,
    );
    expect((await call(t.base, 'GET', '/readyz')).status).toBe(200);
  });

  it('answers 503 within DB_QUERY_TIMEOUT when MariaDB hangs, and past DB_QUEUE_LIMIT at once', async () => {
    const small = await startTestApp({
      env: {
        DATABASE_URL: db.url,
        DB_CONNECT_TIMEOUT: '1s',
        DB_QUERY_TIMEOUT: '1s',
        DB_POOL_SIZE: '1',
        DB_QUEUE_LIMIT: '1',
      },
    });
    try {
      expect((await call(small.base, 'GET', '/api/stocks/300843')).status).toBe(200);
      db.pause();
      const results = await Promise.all(
        [0, 1, 2].map((i) =>
          new Promise((r) => setTimeout(r, i * 50)).then(() =>
            call(small.base, 'GET', '/api/stocks/300843'),
          ),
        ),
      );
      expect(results.map((r) => [r.status, r.json.code])).toEqual([
        [503, 'DB_UNAVAILABLE'],
        [503, 'DB_UNAVAILABLE'],
        [503, 'DB_UNAVAILABLE'],
      ]);
      expect(results[2]!.json.detail).toContain('Queue limit reached');
      expect(results[0]!.json.detail).toContain('PROTOCOL_SEQUENCE_TIMEOUT');
    } finally {
      db.resume();
    }
    try {
      await waitFor(
        'the small app to recover',
        async () => (await call(small.base, 'GET', '/api/stocks/300843')).status === 200,
      );
    } finally {
      await small.close();
    }
  });

  it('starts while MariaDB is down, answers 503, and prepares the schema once it is up', async () => {
    await db.stop();
    const late = await startTestApp({
      env: { DATABASE_URL: db.url, DB_CONNECT_TIMEOUT: '500ms' },
      waitReady: false,
    });
    try {
      expect((await call(late.base, 'GET', '/readyz')).status).toBe(503);
      const res = await call(late.base, 'GET', '/api/focus');
      expect([res.status, res.json.code]).toEqual([503, 'DB_UNAVAILABLE']);
      await db.start();
      await late.database.whenReady();
      expect((await call(late.base, 'GET', '/readyz')).status).toBe(200);
      expect((await call<{ total: number }>(late.base, 'GET', '/api/stocks')).json.total).toBe(240);
    } finally {
      await late.close();
    }
  });
});
