import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect } from '@nats-io/transport-node';
import { Svcm } from '@nats-io/services';
import { startNatsServer, waitFor, type NatsServerHandle } from '@netlab/shared/testing';

jest.setTimeout(30_000);

const FIXTURE = join(__dirname, 'fixtures', 'http-part.js');

interface Part {
  proc: ChildProcess;
  port: number;
  lines: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the fixture part and resolves once it logged the port it listens on. */
async function startPart(env: Record<string, string>): Promise<Part> {
  const proc = spawn(process.execPath, [FIXTURE], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: proc.stdout }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      lines.push({ raw: line });
    }
  });
  const listening = await waitFor('the part to listen', () =>
    lines.find((l) => l.msg === 'listening'),
  );
  return { proc, port: listening.port as number, lines, exited };
}

function get(port: number, path: string, agent?: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('lifecycle of a real part process', () => {
  it('on SIGTERM finishes the in-flight request, closes idle keep-alive sockets and exits 0', async () => {
    const part = await startPart({ SLOW_MS: '400ms' });
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    await get(part.port, '/healthz', agent); // an idle keep-alive socket stays behind
    const slow = get(part.port, '/slow', agent);
    await waitFor('the slow request to be in flight', () =>
      part.lines.some((l) => l.msg === 'slow request started'),
    );
    part.proc.kill('SIGTERM');
    await expect(slow).resolves.toEqual({ status: 200, body: 'slow done' });
    await expect(part.exited).resolves.toEqual({ code: 0, signal: null });
    const msgs = part.lines.map((l) => l.msg);
    expect(msgs).toEqual(expect.arrayContaining(['shutting down', 'shutdown complete']));
    agent.destroy();
  });

  it('exits 130 at once on a second signal, without waiting for in-flight work', async () => {
    const part = await startPart({ SLOW_MS: '60s', SHUTDOWN_GRACE: '60s' });
    const slow = get(part.port, '/slow').catch((err: Error) => err);
    await waitFor('the slow request to be in flight', () =>
      part.lines.some((l) => l.msg === 'slow request started'),
    );
    part.proc.kill('SIGTERM');
    await waitFor('the shutdown to start', () => part.lines.some((l) => l.msg === 'shutting down'));
    part.proc.kill('SIGINT');
    await expect(part.exited).resolves.toEqual({ code: 130, signal: null });
    await slow;
  });

  it('exits 2 naming the variable when its configuration is invalid', async () => {
    const proc = spawn(process.execPath, [FIXTURE], {
      env: { PATH: process.env.PATH, PORT: 'eighty', SLOW_MS: 'soon' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise((resolve) => proc.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('PORT="eighty": expected a port number from 0 to 65535');
    expect(stderr).toContain('SLOW_MS="soon": expected a duration');
  });

  describe('with NATS', () => {
    let nats: NatsServerHandle;
    beforeAll(async () => {
      nats = await startNatsServer();
    });
    afterAll(async () => {
      await nats.dispose();
    });

    it('registers, announces up and down, and leaves $SRV.PING when it stops', async () => {
      const nc = await connect({ servers: nats.url });
      const events: { subject: string; data: Record<string, unknown> }[] = [];
      nc.subscribe('netlab.events.static.*', {
        callback: (_e, m) => void events.push({ subject: m.subject, data: m.json() }),
      });
      await nc.flush();
      const part = await startPart({ NATS_URL: nats.url, NETLAB_INSTANCE: 'static-9' });
      try {
        const svc = new Svcm(nc).client();
        // With no instance left, the request itself fails with no responders.
        const ping = async () => {
          const found = [];
          try {
            for await (const p of await svc.ping('static')) found.push(p);
          } catch (err) {
            if (!(err instanceof Error && /no responders/i.test(err.message))) throw err;
          }
          return found;
        };
        await waitFor('the instance in $SRV.PING', async () => (await ping()).length === 1);
        const infos = [];
        for await (const info of await svc.info('static')) infos.push(info);
        expect(infos[0]?.metadata).toMatchObject({ instance: 'static-9' });
        await waitFor('the up event', () =>
          events.some((e) => e.subject === 'netlab.events.static.up'),
        );
        expect(events[0]!.data).toMatchObject({
          instance: 'static-9',
          metadata: { http: `http://127.0.0.1:${part.port}` },
        });

        part.proc.kill('SIGTERM');
        await expect(part.exited).resolves.toEqual({ code: 0, signal: null });
        await waitFor('the down event', () =>
          events.some((e) => e.subject === 'netlab.events.static.down'),
        );
        expect(await ping()).toHaveLength(0);
      } finally {
        part.proc.kill('SIGKILL');
        await nc.close();
      }
    });

    it('serves HTTP while NATS is unreachable and registers once NATS comes up', async () => {
      await nats.stop();
      const part = await startPart({ NATS_URL: nats.url });
      try {
        expect((await get(part.port, '/healthz')).status).toBe(200);
        await nats.restart();
        await waitFor(
          'the registration',
          () => part.lines.some((l) => l.msg === 'registered on NATS'),
          {
            timeoutMs: 15_000,
          },
        );
      } finally {
        part.proc.kill('SIGTERM');
        await part.exited;
      }
    });
  });
});
