import { createServer, type Server } from 'node:http';
import { isFetcherError } from '../src/errors';
import { startDnsServer, type DnsServer } from './fixtures/dns-server';
import { makeCore, req, startUpstream, type TestCore, type Upstream } from './fixtures/fetcher';

/**
 * SSRF vectors against canary listeners on loopback. The fetcher runs with the default policy
 * (private destinations denied) plus one allow-listed loopback address, 127.0.0.3, which stands in
 * for "a public site": it redirects to canaries, and a rebinding name resolves to it first.
 * Every vector must end in a policy refusal, no canary may see a single connection, and the
 * test tripwire (fixtures/fetcher.ts) proves no dial to a non-loopback address was even tried.
 */

interface Canary {
  server: Server;
  port: number;
  connections: number;
}

async function startCanary(host: string): Promise<Canary> {
  const server = createServer((_req, res) => res.end('canary'));
  const canary: Canary = { server, port: 0, connections: 0 };
  server.on('connection', () => (canary.connections += 1));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  canary.port = (server.address() as { port: number }).port;
  return canary;
}

let v4: Canary;
let v6: Canary;
let v4b: Canary;
let standIn: Upstream;
let dns: DnsServer;
let core: TestCore;
let rebindQueries = 0;

beforeAll(async () => {
  v4 = await startCanary('127.0.0.1');
  v6 = await startCanary('::1');
  v4b = await startCanary('127.0.0.2');
  standIn = await startUpstream((r, res) => {
    const u = new URL(r.url ?? '/', 'http://x');
    if (u.pathname === '/redirect') {
      res.writeHead(Number(u.searchParams.get('status') ?? 302), {
        location: u.searchParams.get('to') ?? '/',
      });
      res.end();
      return;
    }
    // New connection for every request, so that the rebinding name is resolved again.
    res.writeHead(200, { connection: 'close', 'content-type': 'text/plain' });
    res.end('stand-in');
  }, '127.0.0.3');
  const names: Record<string, { A?: string[]; AAAA?: string[] }> = {
    'canary.test': { A: ['127.0.0.1'] },
    'canary6.test': { AAAA: ['::1'] },
    'both.test': { A: ['127.0.0.1'], AAAA: ['::1'] },
    'mapped.test': { AAAA: ['::ffff:127.0.0.1'] },
    'mixed.test': { A: ['127.0.0.3', '127.0.0.1'] },
    localhost: { A: ['127.0.0.1'], AAAA: ['::1'] },
    '127.0.0.1.nip.io': { A: ['127.0.0.1'] },
    'localtest.me': { A: ['127.0.0.1'] },
    'meta.test': { A: ['169.254.169.254'] },
    'metadata.google.internal': { A: ['169.254.169.254'] },
    'private10.test': { A: ['10.0.0.1'] },
    'private172.test': { A: ['172.16.5.4'] },
    'private192.test': { A: ['192.168.0.1'] },
    'cgnat.test': { A: ['100.64.0.1'] },
    'zero.test': { A: ['0.0.0.0'] },
    'mcast.test': { A: ['224.0.0.251'] },
    'bcast.test': { A: ['255.255.255.255'] },
    'ula.test': { AAAA: ['fd00::1'] },
    'linklocal6.test': { AAAA: ['fe80::1'] },
    'nat64.test': { AAAA: ['64:ff9b::7f00:1'] },
    'sixto4.test': { AAAA: ['2002:7f00:1::1'] },
    'teredo.test': { AAAA: ['2001:0:4136:e378:8000:63bf:3fff:fdd2'] },
    'unspec6.test': { AAAA: ['::'] },
    'sitelocal.test': { AAAA: ['fec0::1'] },
    'compat.test': { AAAA: ['::7f00:1'] },
    'imds6.test': { AAAA: ['fd00:ec2::254'] },
    'standin.test': { A: ['127.0.0.3'] },
  };
  dns = await startDnsServer((name, type, _n) => {
    if (name === 'rebind.test') {
      // A "public" answer first, then the canary: the classic time-of-check/time-of-use attack.
      if (type === 'AAAA') return [];
      rebindQueries += 1;
      return rebindQueries % 2 === 1 ? ['127.0.0.3'] : ['127.0.0.1'];
    }
    const entry = names[name];
    if (entry === undefined) return undefined;
    return entry[type] ?? [];
  });
  core = makeCore({
    FETCH_ALLOW: '127.0.0.3',
    FETCH_DNS_SERVERS: dns.address,
    FETCH_MAX_RETRIES: '0',
  });
});

afterAll(async () => {
  await core.close();
  for (const c of [v4, v6, v4b]) await new Promise((r) => c.server.close(r));
  await standIn.close();
  await dns.close();
});

function vectors(): string[] {
  const p = v4.port;
  const p6 = v6.port;
  const pb = v4b.port;
  const s = standIn.port;
  const via = (to: string, status = 302) =>
    `http://127.0.0.3:${s}/redirect?status=${status}&to=${encodeURIComponent(to)}`;
  return [
    // IPv4 spellings of loopback
    `http://127.0.0.1:${p}/`,
    `http://127.1:${p}/`,
    `http://127.0.1:${p}/`,
    `http://2130706433:${p}/`,
    `http://0x7f000001:${p}/`,
    `http://0x7f.0x0.0x0.0x1:${p}/`,
    `http://0x7f.1:${p}/`,
    `http://0177.0.0.1:${p}/`,
    `http://017700000001:${p}/`,
    `http://0177.1:${p}/`,
    `http://127.000.000.001:${p}/`,
    `http://127.0.0.1.:${p}/`,
    `http://127.0.0.2:${pb}/`,
    `http://127.255.255.254:${p}/`,
    `https://127.0.0.1:${p}/`,
    `http://user:pass@127.0.0.1:${p}/`,
    `http://0.0.0.0:${p}/`,
    `http://0:${p}/`,
    `http://0x0:${p}/`,
    // IPv6 spellings
    `http://[::1]:${p6}/`,
    `http://[0:0:0:0:0:0:0:1]:${p6}/`,
    `http://[0000::0001]:${p6}/`,
    `http://[::]:${p6}/`,
    `http://[::ffff:127.0.0.1]:${p}/`,
    `http://[::ffff:7f00:1]:${p}/`,
    `http://[0:0:0:0:0:ffff:127.0.0.1]:${p}/`,
    `http://[::ffff:127.0.0.2]:${pb}/`,
    `http://[::127.0.0.1]:${p}/`,
    `http://[::ffff:0:127.0.0.1]:${p}/`,
    `http://[64:ff9b::127.0.0.1]:${p}/`,
    `http://[2002:7f00:1::]:${p}/`,
    `http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]:${p}/`,
    `http://[fe80::1]:${p}/`,
    `http://[fd00::1]:${p}/`,
    `http://[fd00:ec2::254]/`,
    // Private, metadata and other ranges by literal (classified, never dialled)
    `http://169.254.169.254/latest/meta-data/`,
    `http://10.0.0.1:${p}/`,
    `http://172.16.0.1:${p}/`,
    `http://192.168.1.1:${p}/`,
    `http://100.64.0.1:${p}/`,
    `http://224.0.0.1:${p}/`,
    `http://255.255.255.255:${p}/`,
    `http://240.0.0.1:${p}/`,
    `http://192.0.0.170:${p}/`,
    `http://198.18.0.1:${p}/`,
    // Names that resolve to private addresses
    `http://localhost:${p}/`,
    `http://LOCALHOST:${p}/`,
    `http://localhost.:${p}/`,
    `http://canary.test:${p}/`,
    `http://canary6.test:${p6}/`,
    `http://both.test:${p}/`,
    `http://mapped.test:${p}/`,
    `http://mixed.test:${p}/`,
    `http://127.0.0.1.nip.io:${p}/`,
    `http://localtest.me:${p}/`,
    `http://meta.test/`,
    `http://metadata.google.internal/computeMetadata/v1/`,
    `http://private10.test:${p}/`,
    `http://private172.test:${p}/`,
    `http://private192.test:${p}/`,
    `http://cgnat.test:${p}/`,
    `http://zero.test:${p}/`,
    `http://mcast.test:${p}/`,
    `http://bcast.test:${p}/`,
    `http://ula.test:${p}/`,
    `http://linklocal6.test:${p}/`,
    `http://nat64.test:${p}/`,
    `http://sixto4.test:${p}/`,
    `http://teredo.test:${p}/`,
    `http://unspec6.test:${p}/`,
    `http://sitelocal.test:${p}/`,
    `http://compat.test:${p}/`,
    `http://imds6.test/`,
    // Redirects from the allowed stand-in to canaries
    via(`http://127.0.0.1:${p}/`),
    via(`http://127.0.0.1:${p}/`, 301),
    via(`http://127.0.0.1:${p}/`, 303),
    via(`http://127.0.0.1:${p}/`, 307),
    via(`http://127.0.0.1:${p}/`, 308),
    via(`http://[::1]:${p6}/`),
    via(`http://2130706433:${p}/`),
    via(`http://canary.test:${p}/`),
    via(`http://localhost:${p}/`),
    via(`//127.0.0.1:${p}/`),
    via(`http://169.254.169.254/latest/meta-data/`),
    via(via(`http://[::ffff:127.0.0.1]:${p}/`)),
    `http://standin.test:${s}/redirect?to=${encodeURIComponent(`http://mapped.test:${p}/`)}`,
  ];
}

describe('SSRF protection', () => {
  it('has at least 60 vectors', () => {
    expect(vectors().length).toBe(86);
  });

  it('refuses every vector by policy, and no canary sees a connection', async () => {
    const outcomes: Record<string, string> = {};
    for (const url of vectors()) {
      try {
        await core.engine.fetch(req({ url, timeout: { total: 5 } }), { via: 'http' });
        outcomes[url] = 'FETCHED';
      } catch (err) {
        outcomes[url] = isFetcherError(err) ? err.code : `UNEXPECTED ${(err as Error).message}`;
      }
    }
    const notDenied = Object.entries(outcomes).filter(
      ([, code]) => code !== 'FETCH_DESTINATION_DENIED',
    );
    expect(notDenied).toEqual([]);
    expect({ v4: v4.connections, v6: v6.connections, v4b: v4b.connections }).toEqual({
      v4: 0,
      v6: 0,
      v4b: 0,
    });
    // The policy refused before any dial: the tripwire saw only the stand-in.
    expect(core.tripwire.refused).toEqual([]);
    expect(new Set(core.tripwire.dialled.map((d) => d.replace(/:\d+$/, '')))).toEqual(
      new Set(['127.0.0.3']),
    );
  });

  it('refuses a name whose answer switches from allowed to private between two connections (rebinding)', async () => {
    const url = `http://rebind.test:${standIn.port}/`;
    const first = await core.engine.fetch(req({ url }), { via: 'http' });
    expect(first.body).toEqual({ as: 'text', text: 'stand-in', charset: 'utf-8' });
    await expect(core.engine.fetch(req({ url }), { via: 'http' })).rejects.toMatchObject({
      code: 'FETCH_DESTINATION_DENIED',
    });
    expect(v4.connections).toBe(0);
  });

  it.each([
    'file:///etc/passwd',
    'gopher://127.0.0.1:70/_stats',
    'ftp://127.0.0.1/',
    'dict://127.0.0.1:11211/stat',
    'ws://127.0.0.1/',
    'data:text/plain,hello',
  ])('fetches only http and https, not %s', async (url) => {
    await expect(core.engine.fetch(req({ url }), { via: 'http' })).rejects.toMatchObject({
      code: 'FETCH_SCHEME_DENIED',
    });
  });

  it('refuses a redirect to another scheme', async () => {
    const url = `http://127.0.0.3:${standIn.port}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`;
    await expect(core.engine.fetch(req({ url }), { via: 'http' })).rejects.toMatchObject({
      code: 'FETCH_SCHEME_DENIED',
    });
  });

  it('checks the proxy address like any destination', async () => {
    await expect(
      core.engine.fetch(
        req({ url: `http://127.0.0.3:${standIn.port}/`, proxy: `http://127.0.0.1:${v4.port}` }),
        {
          via: 'http',
        },
      ),
    ).rejects.toMatchObject({ code: 'FETCH_DESTINATION_DENIED' });
    expect(v4.connections).toBe(0);
  });

  it('checks the target behind a proxy before asking the proxy', async () => {
    await expect(
      core.engine.fetch(
        req({ url: `http://127.0.0.1:${v4.port}/`, proxy: `http://127.0.0.3:${standIn.port}` }),
        {
          via: 'http',
        },
      ),
    ).rejects.toMatchObject({ code: 'FETCH_DESTINATION_DENIED' });
    expect(v4.connections).toBe(0);
  });

  it('counts refusals by range in the metrics', async () => {
    const text = await core.registry.metrics();
    expect(text).toMatch(/fetcher_destinations_denied_total\{range="loopback"\} [1-9]/);
    expect(text).toMatch(/fetcher_destinations_denied_total\{range="linkLocal"\} [1-9]/);
  });
});

describe('SSRF protection with the system resolver', () => {
  it('refuses localhost as /etc/hosts resolves it', async () => {
    const canary = await startCanary('127.0.0.1');
    const system = makeCore({});
    try {
      await expect(
        system.engine.fetch(req({ url: `http://localhost:${canary.port}/` }), { via: 'http' }),
      ).rejects.toMatchObject({
        code: 'FETCH_DESTINATION_DENIED',
      });
      expect(canary.connections).toBe(0);
    } finally {
      await system.close();
      await new Promise((r) => canary.server.close(r));
    }
  });
});
