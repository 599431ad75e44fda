import { createServer, type Server } from 'node:http';
import { createHealth, createHealthServer, type Health } from '@netlab/shared';
import { listen } from '@netlab/shared/testing';

async function serve(health: Health): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (!health.handle(req, res)) res.writeHead(418).end();
  });
  const { port } = await listen(server, 0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}`, server };
}

describe('createHealth', () => {
  let health: Health;
  let url: string;
  let server: Server;
  let dbUp: boolean;

  beforeEach(async () => {
    dbUp = true;
    health = createHealth({ service: 'dynamic', instance: 'dynamic-1', defaultMetrics: true });
    health.addReadinessCheck('database', () => dbUp);
    ({ url, server } = await serve(health));
  });
  afterEach(() => server.close());

  it('answers /healthz 200 and leaves other paths to the app', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/other`)).status).toBe(418);
  });

  it('answers /readyz 200 when every check passes and 503 naming the failing one', async () => {
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    dbUp = false;
    const res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not ready', checks: { database: 'failing' } });
  });

  it('serves the health paths mounted under another prefix when told which one was asked', async () => {
    const mounted = createServer((req, res) => {
      const path = (req.url ?? '').replace(/^\/-\//, '/');
      if (!health.handle(req, res, path)) res.writeHead(418).end();
    });
    const { port } = await listen(mounted, 0, '127.0.0.1');
    try {
      expect((await fetch(`http://127.0.0.1:${port}/-/readyz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/-/other`)).status).toBe(418);
    } finally {
      mounted.close();
    }
  });

  it('counts a check that throws as failing', async () => {
    health.addReadinessCheck('broken', () => {
      throw new Error('boom');
    });
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
  });

  it('answers /readyz 503 once draining, even with every check passing', async () => {
    health.setDraining();
    const res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'draining' });
  });

  it('serves Prometheus text with process metrics labelled by service and instance', async () => {
    const res = await fetch(`${url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/process_resident_memory_bytes\{service="dynamic",instance="dynamic-1"\}/);
  });
});

describe('createHealthServer', () => {
  it('answers anything but the health paths with a problem+json 404', async () => {
    const server = createHealthServer(
      createHealth({ service: 'tcp-echo', instance: 't', defaultMetrics: false }),
    );
    const { port } = await listen(server, 0, '127.0.0.1');
    try {
      const res = await fetch(`http://127.0.0.1:${port}/nope`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({ code: 'NOT_FOUND', status: 404 });
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      server.close();
    }
  });
});
