import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { parseConfig } from '@netlab/shared';
import { configSchema } from '../src/config';
import { interleaveFamilies } from '../src/guarded-connector';
import { startDnsServer, type DnsServer } from './fixtures/dns-server';
import { makeCore, req, type TestCore } from './fixtures/fetcher';

/**
 * Happy eyeballs (RFC 8305) against real sockets on loopback: `dual.test` resolves (through a real
 * DNS server on loopback UDP) to ::1, where a listener never accepts and its full queue drops
 * every SYN, a black hole, and to 127.0.0.1, where an HTTP server answers on the same port. IPv6
 * comes first (RFC 6724), so only racing the second family reaches the server in time.
 */

let blackhole: ChildProcess;
let port: number;
let server: Server;
let dns: DnsServer;
const fillers: Socket[] = [];
const closing: Promise<void>[] = [];

/** A listener on [::1]:port with a backlog of 0 that never accepts (Python: Node always accepts). */
async function startBlackhole(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    'python3',
    [
      '-c',
      [
        'import socket, sys',
        's = socket.socket(socket.AF_INET6)',
        "s.bind(('::1', 0))",
        's.listen(0)',
        'print(s.getsockname()[1], flush=True)',
        'sys.stdin.read()',
      ].join('\n'),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`python3 exited with ${code}`)));
  });
  return { child, port: Number(line) };
}

/** Whether a TCP connection to [::1]:port completes within `ms`. */
function connects(ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '::1', port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, ms);
    s.once('connect', () => {
      clearTimeout(timer);
      fillers.push(s);
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

beforeAll(async () => {
  ({ child: blackhole, port } = await startBlackhole());
  // Fill the accept queue; after that the kernel drops SYNs (bounded: a few tries).
  for (let i = 0; i < 8 && (await connects(300)); i++);
  server = createServer((_req, res) => res.end('v4 answered'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  dns = await startDnsServer((name, type) => {
    if (name !== 'dual.test') return undefined;
    return type === 'AAAA' ? ['::1'] : ['127.0.0.1'];
  });
});

afterAll(async () => {
  for (const s of fillers) s.destroy();
  blackhole?.stdin?.end();
  blackhole?.kill('SIGKILL');
  await Promise.all(closing);
  await new Promise((r) => server?.close(r));
  await dns?.close();
});

const core = (delay: string): TestCore =>
  makeCore({
    FETCH_ALLOW: '127.0.0.1,::1',
    FETCH_DNS_SERVERS: dns.address,
    FETCH_HAPPY_EYEBALLS_DELAY: delay,
  });

// A connect timeout far beyond the total deadline: waiting for the black hole to time out
// can never finish the fetch in time.
const dual = () =>
  req({ url: `http://dual.test:${port}/`, timeout: { connect: 30, total: 2 }, retries: 0 });

describe('happy eyeballs (RFC 8305)', () => {
  it('has a black hole to race: the IPv6 listener completes no more connections', async () => {
    expect(await connects(300)).toBe(false);
  });

  it('reaches the IPv4 address while the IPv6 attempt hangs, trying IPv6 first', async () => {
    const c = core('50ms');
    try {
      const res = await c.engine.fetch(dual(), { via: 'http' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ as: 'text', text: 'v4 answered' });
      expect(c.tripwire.dialled).toEqual([`::1:${port}`, `127.0.0.1:${port}`]);
    } finally {
      await c.close();
    }
  });

  it('waits for the hanging attempt when FETCH_HAPPY_EYEBALLS_DELAY=0 (racing off)', async () => {
    const c = core('0');
    await expect(c.engine.fetch(dual(), { via: 'http' })).rejects.toMatchObject({
      code: 'FETCH_DEADLINE_EXCEEDED',
    });
    expect(c.tripwire.dialled).toEqual([`::1:${port}`]);
    // Not awaited: the pool's close waits for the hanging connect, which ends when afterAll
    // closes the black hole.
    closing.push(c.close());
  });

  it('still checks every address before dialling any', async () => {
    const c = makeCore({
      FETCH_ALLOW: '127.0.0.1',
      FETCH_DNS_SERVERS: dns.address,
      FETCH_HAPPY_EYEBALLS_DELAY: '50ms',
    });
    try {
      await expect(c.engine.fetch(dual(), { via: 'http' })).rejects.toMatchObject({
        code: 'FETCH_DESTINATION_DENIED',
      });
      expect(c.tripwire.dialled).toEqual([]);
    } finally {
      await c.close();
    }
  });

  it('alternates families from the first one', () => {
    const a = (address: string) => ({ address, family: address.includes(':') ? 6 : 4 }) as const;
    expect(
      interleaveFamilies([a('::1'), a('::2'), a('::3'), a('1.1.1.1'), a('2.2.2.2')]).map(
        (x) => x.address,
      ),
    ).toEqual(['::1', '1.1.1.1', '::2', '2.2.2.2', '::3']);
    expect(interleaveFamilies([a('1.1.1.1')]).map((x) => x.address)).toEqual(['1.1.1.1']);
  });

  it('refuses a delay below RFC 8305 minimum of 10 ms', () => {
    expect(() => parseConfig(configSchema, { FETCH_HAPPY_EYEBALLS_DELAY: '5ms' })).toThrow(
      /FETCH_HAPPY_EYEBALLS_DELAY/,
    );
    expect(parseConfig(configSchema, {}).FETCH_HAPPY_EYEBALLS_DELAY).toBe(250);
  });
});
