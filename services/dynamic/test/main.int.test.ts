import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connectNats, subjects, type NatsClient } from '@netlab/shared';
import {
  silentLogger,
  startNatsServer,
  waitFor,
  type NatsServerHandle,
} from '@netlab/shared/testing';
import { call } from './harness';
import { openSse, openWs } from './live-clients';

const ROOT = resolve(__dirname, '../../..');
const MAIN = join(ROOT, 'services/dynamic/dist/main.js');

jest.setTimeout(60_000);

interface Part {
  proc: ChildProcess;
  base: string;
  output: () => string;
  exit: Promise<number | null>;
}

/** Starts dist/main.js on a port it announces in its log ("dynamic listening"). */
async function startPart(env: Record<string, string>): Promise<Part> {
  const proc = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const base = await waitFor(
    'dynamic to listen',
    () => {
      if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}: ${out}`);
      return /"url":"(http:\/\/[^"]+)".*"msg":"dynamic listening"/.exec(out)?.[1];
    },
    { timeoutMs: 15_000 },
  );
  return { proc, base, output: () => out, exit };
}

describe('dynamic as a process (dist/main.js)', () => {
  let dir: string;
  let nats: NatsServerHandle;
  let client: NatsClient;
  const started: ChildProcess[] = [];

  beforeAll(async () => {
    // The root solution file does not list services/dynamic yet: build it here (a no-op when fresh).
    execFileSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-b', 'services/dynamic'],
      { cwd: ROOT },
    );
    dir = await mkdtemp(join(tmpdir(), 'netlab-dynamic-main-'));
    nats = await startNatsServer({ jetstream: false });
    client = await connectNats({
      servers: [nats.url],
      name: 'test',
      logger: silentLogger(),
      maxPendingBytes: 1 << 20,
    });
  });
  afterAll(async () => {
    for (const p of started) if (p.exitCode === null) p.kill('SIGKILL');
    await client?.close();
    await nats?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('exits with 2 naming the variable when the configuration is invalid', async () => {
    const proc = spawn(process.execPath, [MAIN], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: 'postgres://x/y', PAGE_SIZE: 'many' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((r) => proc.once('exit', r));
    expect(code).toBe(2);
    expect(err).toContain('DATABASE_URL="postgres://x/y"');
    expect(err).toContain('PAGE_SIZE="many"');
  });

  it('registers on NATS, serves, and on SIGTERM ends its live streams and exits 0', async () => {
    const events: string[] = [];
    const sub = client.nc.subscribe(subjects.event('dynamic', '*'), {
      callback: (_e, m) => {
        events.push(m.subject);
      },
    });
    await client.nc.flush();
    const part = await startPart({
      DATABASE_URL: `sqlite:${join(dir, 'a.db')}`,
      NATS_URL: nats.url,
      NETLAB_INSTANCE: 'dynamic-main-test',
    });
    started.push(part.proc);
    await waitFor(
      'readiness',
      async () => (await call(part.base, 'GET', '/readyz')).status === 200,
    );
    await waitFor('the up event', () => events.includes('netlab.events.dynamic.up'));
    const ping = await client.nc.request('$SRV.PING.dynamic', undefined, { timeout: 2000 });
    expect(ping.json<{ name: string; metadata: Record<string, string> }>()).toMatchObject({
      name: 'dynamic',
      metadata: { http: part.base },
    });
    expect((await call<{ total: number }>(part.base, 'GET', '/api/stocks')).json.total).toBe(240);

    const sse = await openSse(`${part.base}/api/stream/quotes`);
    const ws = await openWs(`${part.base.replace('http', 'ws')}/ws/quotes`);
    part.proc.kill('SIGTERM');
    expect(await part.exit).toBe(0);
    expect((await ws.closed()).code).toBe(1001);
    sse.close();
    expect(events).toContain('netlab.events.dynamic.down');
    sub.unsubscribe();
  });

  it('lets several instances start at once on one SQLite file: one migrates, all serve', async () => {
    const db = `sqlite:${join(dir, 'shared.db')}`;
    const parts = await Promise.all([1, 2, 3].map(() => startPart({ DATABASE_URL: db })));
    started.push(...parts.map((p) => p.proc));
    for (const part of parts) {
      await waitFor(
        'readiness',
        async () => (await call(part.base, 'GET', '/readyz')).status === 200,
      );
      expect((await call<{ total: number }>(part.base, 'GET', '/api/stocks')).json.total).toBe(240);
    }
    const migrated = parts.filter((p) =>
      p.output().includes('"applied":["0001_create_info_and_focus"]'),
    );
    expect(migrated).toHaveLength(1);
    const created = await call(parts[0]!.base, 'POST', '/api/focus', { code: '300843' });
    expect(created.status).toBe(201);
    expect((await call(parts[2]!.base, 'GET', '/api/focus/300843')).status).toBe(200);
    for (const part of parts) part.proc.kill('SIGTERM');
    expect(await Promise.all(parts.map((p) => p.exit))).toEqual([0, 0, 0]);
  });
});
