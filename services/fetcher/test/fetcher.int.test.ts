import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats, subjects, type NatsClient } from '@netlab/shared';
import {
  silentLogger,
  startNatsServer,
  waitFor,
  type NatsServerHandle,
} from '@netlab/shared/testing';
import { request } from 'undici';
import { SESSION_BUCKET } from '../src/config';
import { downloadSubjects } from '../src/nats-downloads';
import { startUpstream, type Upstream } from './fixtures/fetcher';
import { CLI, MAIN, startFetcher, type FetcherProcess } from './fixtures/fetcher-process';
import { createRoutes, type Routes } from './fixtures/routes';

/** Two real fetcher processes sharing one real nats-server: NATS endpoint, sessions, events. */

let nats: NatsServerHandle;
let client: NatsClient;
let routes: Routes;
let up: Upstream;
let a: FetcherProcess;
let b: FetcherProcess;
let downloadsDir: string;

const post = (f: FetcherProcess, path: string, body: unknown) =>
  request(`${f.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

beforeAll(async () => {
  nats = await startNatsServer();
  client = await connectNats({
    servers: [nats.url],
    name: 'test',
    logger: silentLogger(),
    maxPendingBytes: 1 << 20,
  });
  routes = createRoutes();
  up = await startUpstream(routes.handler);
  downloadsDir = mkdtempSync(join(tmpdir(), 'netlab-fetcher-int-'));
  const env = {
    NATS_URL: nats.url,
    FETCH_ALLOW: '127.0.0.1',
    FETCH_DOWNLOADS_DIR: downloadsDir,
    FETCH_NATS_MAX_BODY: '64KiB',
    FETCH_PROGRESS_INTERVAL: '50ms',
  };
  [a, b] = await Promise.all([
    startFetcher({ ...env, NETLAB_INSTANCE: 'fetcher-a' }),
    startFetcher({ ...env, NETLAB_INSTANCE: 'fetcher-b' }),
  ]);
  // Sessions are ready once both have opened the bucket.
  await waitFor(
    'both instances to open the sessions bucket',
    () => [a, b].every((f) => f.lines.some((l) => l.msg === 'sessions are kept in NATS KV')),
    { timeoutMs: 15_000 },
  );
}, 30_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await client?.close();
  routes?.close();
  await up?.close();
  await nats?.dispose();
  rmSync(downloadsDir, { recursive: true, force: true });
});

describe('the NATS endpoint netlab.fetcher.fetch', () => {
  it('answers the envelope, and instances share the work through the queue group', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const msg = await client.request(
        subjects.fetcherFetch,
        JSON.stringify({ url: `${up.url}/echo?i=${i}` }),
        {
          timeoutMs: 5000,
          requestId: `req-${i}`,
        },
      );
      const reply = msg.json<{ status: number; body: { json: { url: string } } }>();
      expect([reply.status, reply.body.json.url]).toEqual([200, `/echo?i=${i}`]);
      expect(msg.headers?.get('Nats-Service-Error-Code') ?? '').toBe('');
    }
    // $SRV.PING reaches each instance: two replies, two ids.
    const inbox = `_INBOX.ping.${process.pid}.${Date.now()}`;
    const replies = client.nc.subscribe(inbox, { timeout: 2000 });
    client.nc.publish('$SRV.PING.fetcher', '', { reply: inbox });
    for await (const m of replies) {
      seen.add(m.json<{ id: string }>().id);
      if (seen.size === 2) break;
    }
    // Both answered fetches: the queue group spread the 16 requests.
    const inbox2 = `_INBOX.stats.${process.pid}.${Date.now()}`;
    const stats: number[] = [];
    const statReplies = client.nc.subscribe(inbox2, { timeout: 2000 });
    client.nc.publish('$SRV.STATS.fetcher', '', { reply: inbox2 });
    for await (const m of statReplies) {
      const s = m.json<{ endpoints: { name: string; num_requests: number }[] }>();
      stats.push(s.endpoints.find((e) => e.name === 'fetch')?.num_requests ?? 0);
      if (stats.length === 2) break;
    }
    expect(stats.every((n) => n > 0)).toBe(true);
    expect(seen.size).toBe(2);
  });

  it('refuses a body too large for a NATS message with FETCH_TOO_LARGE_FOR_NATS', async () => {
    const msg = await client.request(
      subjects.fetcherFetch,
      JSON.stringify({ url: `${up.url}/bytes?n=100000` }),
      { timeoutMs: 5000 },
    );
    expect(msg.headers?.get('Nats-Service-Error-Code')).toBe('413');
    expect(msg.headers?.get('Nats-Service-Error')).toBe('FETCH_TOO_LARGE_FOR_NATS');
    const reply = msg.json<{ error: { code: string; detail: string } }>();
    expect(reply.error.code).toBe('FETCH_TOO_LARGE_FOR_NATS');
    expect(reply.error.detail).toContain('FETCH_NATS_MAX_BODY');
    // The same fetch over HTTP is fine.
    const res = await post(a, '/fetch', { url: `${up.url}/bytes?n=100000` });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });

  it('answers an invalid envelope with FETCH_INVALID_REQUEST', async () => {
    const msg = await client.request(subjects.fetcherFetch, '{"url": 3}', { timeoutMs: 5000 });
    expect(msg.headers?.get('Nats-Service-Error-Code')).toBe('400');
    expect(msg.json<{ error: { code: string } }>().error.code).toBe('FETCH_INVALID_REQUEST');
    const notJson = await client.request(subjects.fetcherFetch, 'nope', { timeoutMs: 5000 });
    expect(notJson.json<{ error: { code: string } }>().error.code).toBe('FETCH_INVALID_REQUEST');
  });
});

describe('sessions in NATS KV', () => {
  it('keeps a session cookie set through one instance for the other', async () => {
    const set = await post(a, '/fetch', {
      url: `${up.url}/set-cookie?c=${encodeURIComponent('sid=shared; Path=/')}`,
      session: 'multi',
    });
    expect(set.statusCode).toBe(200);
    await set.body.dump();
    const res = await post(b, '/fetch', { url: `${up.url}/echo`, session: 'multi' });
    const body = (await res.body.json()) as { body: { json: { headers: { cookie?: string } } } };
    expect(body.body.json.headers.cookie).toBe('sid=shared');
    const kv = await client.nc.request(`$JS.API.STREAM.INFO.KV_${SESSION_BUCKET}`, '', {
      timeout: 2000,
    });
    expect(kv.json<{ config: { name: string } }>().config.name).toBe(`KV_${SESSION_BUCKET}`);
  });

  it('keeps the cookies of two concurrent fetches of one session', async () => {
    const cookie = (c: string) => `${up.url}/set-cookie?c=${encodeURIComponent(`${c}; Path=/`)}`;
    const results = await Promise.all([
      post(a, '/fetch', { url: cookie('x=1'), session: 'race' }),
      post(b, '/fetch', { url: cookie('y=2'), session: 'race' }),
      post(a, '/fetch', { url: cookie('z=3'), session: 'race' }),
    ]);
    for (const r of results) await r.body.dump();
    const shown = (await (await request(`${b.url}/sessions/race`)).body.json()) as {
      cookies: { name: string }[];
    };
    expect(shown.cookies.map((c) => c.name).sort()).toEqual(['x', 'y', 'z']);
  });
});

describe('download events', () => {
  it('publishes progress and the end of a download on netlab.events.fetcher.download', async () => {
    const events: { kind: string; instance: string; download: { id: string; bytes: number } }[] =
      [];
    const sub = client.nc.subscribe(subjects.event('fetcher', 'download'), {
      callback: (_err, m) => {
        events.push(m.json());
      },
    });
    const res = await post(a, '/downloads', { url: `${up.url}/bytes?n=${4 * 1024 * 1024}` });
    const { id } = (await res.body.json()) as { id: string };
    const done = await waitFor('the done event', () =>
      events.find((e) => e.download.id === id && e.kind === 'done'),
    );
    expect(done).toMatchObject({ instance: 'fetcher-a', download: { bytes: 4 * 1024 * 1024 } });
    sub.unsubscribe();
  });
});

describe('downloads over NATS', () => {
  interface Record {
    id: string;
    state: string;
    bytes: number;
    path?: string;
    sha256?: string;
    error?: { code: string };
  }
  interface Event {
    kind: string;
    instance: string;
    download: Record;
  }

  it('starts a download on netlab.fetcher.download, tracks it on its own subjects and reports it as events', async () => {
    const events: Event[] = [];
    const sub = client.nc.subscribe(subjects.event('fetcher', 'download'), {
      callback: (_err, m) => void events.push(m.json<Event>()),
    });
    const n = 2 * 1024 * 1024;
    const msg = await client.request(
      downloadSubjects.start,
      JSON.stringify({ url: `${up.url}/bytes?n=${n}`, download: { filename: 'nats.bin' } }),
      { timeoutMs: 5000, requestId: 'dl-1' },
    );
    const started = msg.json<Record>();
    expect(started).toMatchObject({ state: 'running', bytes: 0 });
    const done = await waitFor('the done event', () =>
      events.find((e) => e.download.id === started.id && e.kind === 'done'),
    );
    // The instance that took the start holds the download and answers for it.
    const got = (
      await client.request(downloadSubjects.get(started.id), '', { timeoutMs: 5000 })
    ).json<Record>();
    expect(got).toMatchObject({ id: started.id, state: 'done', bytes: n });
    expect(got.path).toMatch(/nats\.bin$/);
    expect(got.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(['fetcher-a', 'fetcher-b']).toContain(done.instance);
    // The same record over HTTP, from that instance.
    const owner = done.instance === 'fetcher-a' ? a : b;
    const http = (await (
      await request(`${owner.url}/downloads/${started.id}`)
    ).body.json()) as Record;
    expect(http).toMatchObject({ id: started.id, state: 'done', bytes: n });
    sub.unsubscribe();
  });

  it('cancels a running download on netlab.fetcher.downloads.<id>.cancel', async () => {
    const msg = await client.request(
      downloadSubjects.start,
      JSON.stringify({ url: `${up.url}/drip?every=20` }),
      { timeoutMs: 5000 },
    );
    const { id } = msg.json<Record>();
    await client.request(downloadSubjects.cancel(id), '', { timeoutMs: 5000 });
    const cancelled = await waitFor('the download to be cancelled', async () => {
      const r = (
        await client.request(downloadSubjects.get(id), '', { timeoutMs: 5000 })
      ).json<Record>();
      return r.state === 'cancelled' ? r : undefined;
    });
    expect(cancelled.error?.code).toBe('FETCH_DOWNLOAD_CANCELLED');
  });

  it('refuses an invalid download request, and an id no instance holds has no responders', async () => {
    const bad = await client.request(
      downloadSubjects.start,
      JSON.stringify({ url: `${up.url}/bytes`, download: { sha256: 'yes' } }),
      { timeoutMs: 5000 },
    );
    expect(bad.headers?.get('Nats-Service-Error-Code')).toBe('400');
    expect(bad.json<{ error: { code: string } }>().error.code).toBe('FETCH_INVALID_REQUEST');
    await expect(
      client.request(downloadSubjects.get('00000000-0000-4000-8000-000000000000'), '', {
        timeoutMs: 5000,
      }),
    ).rejects.toMatchObject({ code: 'NATS_NO_RESPONDERS' });
  });

  it('lists the download endpoint in the micro service info', async () => {
    const inbox = `_INBOX.info.${process.pid}.${Date.now()}`;
    const replies = client.nc.subscribe(inbox, { timeout: 2000 });
    client.nc.publish('$SRV.INFO.fetcher', '', { reply: inbox });
    for await (const m of replies) {
      const info = m.json<{ endpoints: { name: string; subject: string }[] }>();
      expect(info.endpoints).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'download', subject: downloadSubjects.start }),
        ]),
      );
      break;
    }
  });
});

describe('the netlab-fetch binary', () => {
  const runCli = async (natsUrl: string, env: Record<string, string> = {}) => {
    const child = spawn(process.execPath, [CLI, `${up.url}/echo`, 'q==nats', '--nats', natsUrl], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, out };
  };

  it('asks over NATS with --nats and prints the body', async () => {
    const { code, out } = await runCli(nats.url);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ url: '/echo?q=nats' });
  });

  it('logs in with NATS_USER and NATS_PASSWORD on a server with users, as the lab runs it', async () => {
    const secured = await startNatsServer({ secured: true });
    const login = (user: 'fetcher' | 'admin') => {
      const c = secured.credentials(user);
      return { NATS_USER: c.user, NATS_PASSWORD: c.password };
    };
    const f = await startFetcher({
      NATS_URL: secured.url,
      ...login('fetcher'),
      FETCH_ALLOW: '127.0.0.1',
      FETCH_DOWNLOADS_DIR: downloadsDir,
    });
    try {
      await waitFor('the fetcher to register', () =>
        f.lines.some((l) => l.msg === 'registered on NATS'),
      );
      const ok = await runCli(secured.url, login('admin'));
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.out)).toMatchObject({ url: '/echo?q=nats' });
      // Without credentials the server refuses the connection: a failure, not a hang.
      expect((await runCli(secured.url)).code).not.toBe(0);
    } finally {
      await f.stop();
      await secured.dispose();
    }
  });
});

describe('lifecycle', () => {
  it('finishes an in-flight fetch on SIGTERM, then exits 0', async () => {
    const c = await startFetcher({
      NATS_URL: nats.url,
      FETCH_ALLOW: '127.0.0.1',
      FETCH_DOWNLOADS_DIR: downloadsDir,
    });
    const slow = post(c, '/fetch', { url: `${up.url}/slow?ms=500` });
    await waitFor('the fetch to be in flight', () =>
      c.lines.some((l) => l.msg === 'registered on NATS'),
    );
    await new Promise((r) => setTimeout(r, 100));
    c.proc.kill('SIGTERM');
    const res = await slow;
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(await c.exited).toBe(0);
  });

  it('exits 2 naming each bad variable', async () => {
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, FETCH_ALLOW: '300.1.1.1/40', FETCH_MAX_REDIRECTS: 'lots' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(err).toContain('FETCH_ALLOW=');
    expect(err).toContain('FETCH_MAX_REDIRECTS=');
  });
});
