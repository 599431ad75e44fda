import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTcp } from 'node:net';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { waitFor } from '@netlab/shared/testing';
import { startUpstream } from './helpers';
import {
  runGatewayToExit,
  spawnGateway,
  spawnUpstream,
  type GatewayProcess,
  type UpstreamProcess,
} from './processes';

jest.setTimeout(90_000);

const agent = new Agent({ keepAliveTimeout: 500 });
afterAll(() => agent.close());

let gw: GatewayProcess | undefined;
const upstreams: UpstreamProcess[] = [];
afterEach(async () => {
  await gw?.stop('SIGKILL');
  gw = undefined;
  await Promise.all(upstreams.splice(0).map((u) => u.stop()));
});

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

describe('the gateway process', () => {
  it('exits 2 naming every bad variable', async () => {
    const { code, output } = await runGatewayToExit({ UPSTREAMS: 'static', BALANCER: 'random' });
    expect(code).toBe(2);
    expect(output).toContain('UPSTREAMS="static"');
    expect(output).toContain('BALANCER="random"');
    // Checks across variables come once each one is valid.
    const cross = await runGatewayToExit({ HEADERS_TIMEOUT: '1m', REQUEST_TIMEOUT: '10s' });
    expect(cross.code).toBe(2);
    expect(cross.output).toContain('HEADERS_TIMEOUT="1m": must not exceed REQUEST_TIMEOUT');
  });

  it('exits 2 on an invalid ROUTES_FILE and serves a valid one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gateway-routes-'));
    try {
      const bad = join(dir, 'bad.json');
      await writeFile(bad, JSON.stringify({ routes: [{ name: 'x', prefix: '/' }] }));
      const refused = await runGatewayToExit({ ROUTES_FILE: bad });
      expect(refused.code).toBe(2);
      expect(refused.output).toMatch(/ROUTES_FILE=[\s\S]*routes\.0\.service/);

      const up = await spawnUpstream('files');
      upstreams.push(up);
      const good = join(dir, 'routes.json');
      await writeFile(good, JSON.stringify([{ name: 'all', prefix: '/', service: 'files' }]));
      gw = await spawnGateway({ ROUTES_FILE: good, UPSTREAMS: `files=${up.url}` });
      const routes = (await (
        await request(`${gw.url}/-/routes`, { dispatcher: agent })
      ).body.json()) as {
        source: string;
      };
      expect(routes.source).toBe(good);
      await waitFor('the file route to serve', async () => {
        const res = await request(`${gw!.url}/anything`, { dispatcher: agent });
        return (await res.body.text()) === 'files GET /anything';
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers 504 at UPSTREAM_HEADERS_TIMEOUT when the upstream is stopped (SIGSTOP)', async () => {
    const up = await spawnUpstream('frozen');
    upstreams.push(up);
    gw = await spawnGateway({
      UPSTREAMS: `static=${up.url}`,
      UPSTREAM_HEADERS_TIMEOUT: '500ms',
      HEALTH_INTERVAL: '1h',
    });
    await waitFor('the upstream to serve', async () => {
      const res = await request(`${gw!.url}/x`, { dispatcher: agent });
      return (await res.body.text()) === 'frozen GET /x';
    });
    up.proc.kill('SIGSTOP');
    const res = await request(`${gw.url}/y`, { dispatcher: agent });
    expect(res.statusCode).toBe(504);
    expect(await res.body.json()).toMatchObject({
      code: 'GATEWAY_UPSTREAM_TIMEOUT',
      route: 'static',
    });
    up.proc.kill('SIGCONT');
  });

  it('answers 504 at UPSTREAM_CONNECT_TIMEOUT when the upstream accepts no connection', async () => {
    const up = await spawnUpstream('full', { BACKLOG: '1' });
    upstreams.push(up);
    gw = await spawnGateway({
      UPSTREAMS: `static=${up.url}`,
      UPSTREAM_CONNECT_TIMEOUT: '500ms',
      // Pooled connections go idle at once, so the next request needs a new one.
      UPSTREAM_KEEPALIVE_TIMEOUT: '50ms',
      HEALTH_INTERVAL: '1h',
      RETRIES: '0',
    });
    await waitFor('the upstream to serve', async () => {
      const res = await request(`${gw!.url}/x`, { dispatcher: agent });
      return (await res.body.text()) === 'full GET /x';
    });
    up.proc.kill('SIGSTOP');
    // Fill the stopped process's accept queue; further SYNs are dropped and connects hang.
    const fillers = [0, 1, 2, 3].map(() =>
      connectTcp(up.port, '127.0.0.1').on('error', () => undefined),
    );
    try {
      await new Promise((r) => setTimeout(r, 200));
      const res = await request(`${gw.url}/y`, { dispatcher: agent });
      expect(res.statusCode).toBe(504);
      expect(await res.body.json()).toMatchObject({ code: 'GATEWAY_UPSTREAM_TIMEOUT' });
      const ups = await (await request(`${gw.url}/-/upstreams`, { dispatcher: agent })).body.text();
      expect(ups).toContain('"ejected"');
    } finally {
      fillers.forEach((s) => s.destroy());
      up.proc.kill('SIGCONT');
    }
  });

  it('gives up on a TCP instance that accepts nothing after TCP_CONNECT_TIMEOUT and closes the client', async () => {
    const up = await spawnUpstream('tcp-full', { BACKLOG: '1' });
    upstreams.push(up);
    gw = await spawnGateway({
      UPSTREAMS: `tcp-echo=tcp://127.0.0.1:${up.port}`,
      TCP_CONNECT_TIMEOUT: '300ms',
      HEALTH_INTERVAL: '1h',
    });
    await waitFor('the TCP instance to be healthy', async () => {
      const res = await request(`${gw!.url}/-/upstreams`, { dispatcher: agent });
      return (await res.body.text()).includes('"healthy"');
    });
    up.proc.kill('SIGSTOP');
    const fillers = [0, 1, 2, 3].map(() =>
      connectTcp(up.port, '127.0.0.1').on('error', () => undefined),
    );
    try {
      await new Promise((r) => setTimeout(r, 200));
      await new Promise<void>((resolve) => {
        const client = connectTcp(gw!.tcpPort!, '127.0.0.1');
        client.on('error', () => undefined);
        client.on('close', () => resolve());
        client.write('anyone?');
      });
      const metrics = await (
        await request(`${gw.url}/-/metrics`, { dispatcher: agent })
      ).body.text();
      expect(metrics).toMatch(/gateway_tcp_connections_total\{result="upstream_failed"[^}]*\} 1/);
    } finally {
      fillers.forEach((s) => s.destroy());
      up.proc.kill('SIGCONT');
    }
  });

  it('streams 1 GiB up and 1 GiB down at once, byte for byte, in bounded memory', async () => {
    const up = await spawnUpstream('echo');
    upstreams.push(up);
    gw = await spawnGateway({
      UPSTREAMS: `static=${up.url}`,
      MAX_BODY_SIZE: '2GiB',
      ACCESS_LOG: 'false',
    });
    await waitFor('the upstream to be healthy', async () => {
      const res = await request(`${gw!.url}/ping`, { dispatcher: agent });
      return res.statusCode === 200 && (await res.body.text()) !== '';
    });
    const size = 1024 ** 3;
    const chunk = Buffer.alloc(256 * 1024);
    for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((i * 2654435761) >>> 0, i);
    let produced = 0;
    const body = new Readable({
      read() {
        if (produced >= size) {
          this.push(null);
          return;
        }
        // Vary each chunk so that a reordering would change the hash.
        const c = Buffer.from(chunk);
        c.writeUInt32LE(produced / chunk.length, 0);
        produced += c.length;
        this.push(c);
      },
    });
    const sent = createHash('sha256');
    body.on('data', (d: Buffer) => sent.update(d));
    let maxRss = 0;
    const sampler = setInterval(() => (maxRss = Math.max(maxRss, rssOf(gw!.proc.pid!))), 100);
    try {
      const { received, bytes } = await new Promise<{ received: string; bytes: number }>(
        (resolve, reject) => {
          const hash = createHash('sha256');
          let n = 0;
          const req = httpRequest(
            `${gw!.url}/echo`,
            { method: 'POST', headers: { 'content-length': String(size) } },
            (res) => {
              res.on('data', (d: Buffer) => {
                n += d.length;
                hash.update(d);
              });
              res.on('end', () => resolve({ received: hash.digest('hex'), bytes: n }));
              res.on('error', reject);
            },
          );
          req.on('error', reject);
          body.pipe(req);
        },
      );
      expect(bytes).toBe(size);
      expect(received).toBe(sent.digest('hex'));
    } finally {
      clearInterval(sampler);
    }
    // Both directions streamed: the gateway never held more than a few buffers of it.
    expect(maxRss).toBeLessThan(200 * 1024 * 1024);
  });

  it('finishes in-flight requests on SIGTERM and exits 0', async () => {
    const slow = await startUpstream('slow', (req, res) => {
      req.resume();
      setTimeout(() => res.end('finished'), 600);
    });
    try {
      gw = await spawnGateway({ UPSTREAMS: `static=${slow.url}` });
      await waitFor('the instance to be healthy', async () => {
        const res = await request(`${gw!.url}/-/upstreams`, { dispatcher: agent });
        return ((await res.body.text()).match(/"healthy"/g) ?? []).length === 1;
      });
      const inFlight = request(`${gw.url}/slow`, { dispatcher: agent });
      await waitFor('the request to reach the upstream', () => slow.seen.length === 1);
      gw.proc.kill('SIGTERM');
      const res = await inFlight;
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('finished');
      expect(await gw.exited).toBe(0);
      expect(gw.output.some((l) => l.includes('"shutdown complete"'))).toBe(true);
    } finally {
      await slow.close();
    }
  });

  it('runs WORKERS processes on one port and drains them all on SIGTERM', async () => {
    const up = await spawnUpstream('shared');
    upstreams.push(up);
    gw = await spawnGateway({ UPSTREAMS: `static=${up.url}`, WORKERS: '2', NETLAB_INSTANCE: 'gw' });
    // A new connection per request, so that the connections are spread across the workers.
    const fresh = new Agent({ pipelining: 0 });
    await waitFor('both workers to serve', async () => {
      const res = await request(`${gw!.url}/x`, { dispatcher: fresh });
      await res.body.dump();
      const instances = new Set(
        gw!.output
          .filter((l) => l.includes('"component":"access"'))
          .map((l) => (JSON.parse(l) as { instance: string }).instance),
      );
      return instances.has('gw-w1') && instances.has('gw-w2');
    });
    await fresh.close();
    expect(await gw.stop('SIGTERM')).toBe(0);
  });
});
