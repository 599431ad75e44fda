import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expandUrl, parseCliArgs, runCli, type CliCommand, type CliIo } from '../src/cli';
import { startApp, type App } from './fixtures/app';
import { startUpstream, type Upstream } from './fixtures/fetcher';
import { createRoutes, type Routes } from './fixtures/routes';

class Capture extends Writable {
  chunks: Buffer[] = [];
  constructor(readonly isTTY = false) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    cb();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

function io(
  env: Record<string, string> = {},
  tty = false,
): CliIo & { stdout: Capture; stderr: Capture } {
  return { stdout: new Capture(tty), stderr: new Capture(false), env };
}

let routes: Routes;
let up: Upstream;
let app: App;
let dir: string;

beforeAll(async () => {
  routes = createRoutes();
  up = await startUpstream(routes.handler);
  app = await startApp();
  dir = mkdtempSync(join(tmpdir(), 'netlab-fetch-cli-'));
});

afterAll(async () => {
  routes.close();
  await app.close();
  await up.close();
  rmSync(dir, { recursive: true, force: true });
});

const parse = async (...argv: string[]) => (await parseCliArgs(argv, {})) as CliCommand;

describe('netlab-fetch arguments', () => {
  it('reads httpie items: params, headers, JSON fields, raw JSON', async () => {
    const cmd = await parse(
      'PUT',
      ':8080/x',
      'q==1',
      'X-A:b',
      'name=ann',
      'age:=30',
      'tags:=["a"]',
    );
    expect(cmd.envelope).toMatchObject({
      method: 'PUT',
      url: 'http://localhost:8080/x',
      params: [['q', '1']],
      headers: [['X-A', 'b']],
      json: { name: 'ann', age: 30, tags: ['a'] },
    });
  });

  it('reads the flags of the issue: -p -H --json -d --session --timeout -o', async () => {
    const cmd = await parse(
      'http://h/',
      '-p',
      'a=1',
      '-H',
      'K: v',
      '-d',
      'f=2',
      '--session',
      's1',
      '--timeout',
      '2.5',
      '-o',
      'out.bin',
    );
    expect(cmd.envelope).toMatchObject({
      method: 'POST',
      params: [['a', '1']],
      headers: [['K', 'v']],
      data: [['f', '2']],
      session: 's1',
      timeout: { connect: 2.5, headers: 2.5, read: 2.5 },
    });
    expect(cmd.output).toBe('out.bin');
    expect((await parse('h', '--json', '{"x":[1]}')).envelope.json).toEqual({ x: [1] });
  });

  it('sends a file inline to a remote fetcher, by path with --local', async () => {
    const file = join(dir, 'up.txt');
    writeFileSync(file, 'hello');
    const remote = await parse('h', `-F`, `doc=@${file}`, '-F', 'note=x');
    expect(remote.envelope.files).toEqual([
      { field: 'doc', content: Buffer.from('hello').toString('base64'), filename: 'up.txt' },
    ]);
    expect(remote.envelope.data).toEqual([['note', 'x']]);
    const local = await parse('h', `doc@${file}`, '--local');
    expect(local.envelope.files).toEqual([{ field: 'doc', path: file }]);
  });

  it('expands URL shorthands as httpie does', () => {
    expect(expandUrl(':3000')).toBe('http://localhost:3000');
    expect(expandUrl('example.org/a')).toBe('http://example.org/a');
    expect(expandUrl('https://x')).toBe('https://x');
  });

  it.each([
    [['--nope', 'h']],
    [[]],
    [['h', 'not-an-item']],
    [['h', 'n:=notjson']],
    [['h', '--local', '--nats', 'nats://x']],
    [['h', '--allow', '127.0.0.1']],
    [['h', '--nats', 'nats://x', '-o', 'f']],
    [['h', '--retries', 'many']],
    [['h', '-H', 'NoColon']],
  ])('exits 2 with the usage for %j', async (argv) => {
    const out = io();
    expect(await runCli(argv, out)).toBe(2);
    expect(out.stderr.text()).toContain('Usage: netlab-fetch');
  });
});

describe('netlab-fetch against a running fetcher', () => {
  it('prints the JSON body when piped, and headers too on a terminal', async () => {
    const piped = io({ NETLAB_FETCHER_URL: app.url });
    expect(await runCli([`${up.url}/echo`, 'a==1'], piped)).toBe(0);
    expect(JSON.parse(piped.stdout.text())).toMatchObject({ method: 'GET', url: '/echo?a=1' });
    const tty = io({}, true);
    expect(await runCli([`${up.url}/echo`, '--fetcher', app.url], tty)).toBe(0);
    expect(tty.stdout.text()).toMatch(/^HTTP\/1\.1 200 OK\ncontent-type: application\/json\n/);
  });

  it('exits 1 with the problem code when the fetch fails', async () => {
    const out = io({ NETLAB_FETCHER_URL: app.url });
    expect(await runCli(['http://169.254.169.254/'], out)).toBe(1);
    expect(out.stderr.text()).toMatch(/^netlab-fetch: FETCH_DESTINATION_DENIED: /);
  });

  it('exits 1 naming the fetcher when none answers', async () => {
    const out = io({ NETLAB_FETCHER_URL: 'http://127.0.0.1:1' });
    expect(await runCli([`${up.url}/echo`], out)).toBe(1);
    expect(out.stderr.text()).toContain('CLI_FETCHER_UNREACHABLE');
  });

  it('gives up on a NATS server that does not answer', async () => {
    const out = io({ NETLAB_FETCH_NATS_TIMEOUT: '0.3' });
    expect(await runCli([`${up.url}/echo`, '--nats', 'nats://127.0.0.1:1'], out)).toBe(1);
    expect(out.stderr.text()).toContain('NATS_UNAVAILABLE');
  });

  it('exits with the status class under --check-status', async () => {
    const out = io({ NETLAB_FETCHER_URL: app.url });
    expect(await runCli([`${up.url}/echo?status=404`, '--check-status'], out)).toBe(4);
  });

  it('downloads with -o and draws a progress bar', async () => {
    const out = io({ NETLAB_FETCHER_URL: app.url });
    const file = join(dir, 'dl.bin');
    expect(
      await runCli([`${up.url}/bytes?n=${2 * 1024 * 1024}`, '-o', file, '--progress'], out),
    ).toBe(0);
    expect(readFileSync(file).length).toBe(2 * 1024 * 1024);
    expect(out.stderr.text()).toContain('[########################] 100%  2.0 MiB / 2.0 MiB');
    expect(out.stderr.text()).toContain(`200 OK: saved 2.0 MiB to ${file}`);
  });
});

describe('netlab-fetch --local', () => {
  it('fetches in-process, under the same address policy', async () => {
    const denied = io();
    expect(await runCli([`${up.url}/echo`, '--local'], denied)).toBe(1);
    expect(denied.stderr.text()).toContain('FETCH_DESTINATION_DENIED');
    const allowed = io();
    expect(
      await runCli(['POST', `${up.url}/echo`, 'x=1', '--local', '--allow', '127.0.0.1'], allowed),
    ).toBe(0);
    expect(JSON.parse(allowed.stdout.text())).toMatchObject({ method: 'POST', body: '{"x":"1"}' });
  });

  it('uploads a local file by path and downloads with -o', async () => {
    const file = join(dir, 'local.bin');
    writeFileSync(file, Buffer.alloc(1000, 7));
    const up1 = io({ FETCH_ALLOW: '127.0.0.1' });
    const code = await runCli([`${up.url}/upload`, `f@${file}`, '--local'], up1);
    expect(up1.stderr.text()).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(up1.stdout.text())).toMatchObject({
      head: expect.stringContaining('filename="local.bin"') as unknown,
    });
    const target = join(dir, 'local-dl.bin');
    const dl = io({ FETCH_ALLOW: '127.0.0.1' });
    expect(await runCli([`${up.url}/bytes?n=1000`, '--local', '-o', target], dl)).toBe(0);
    expect(readFileSync(target).length).toBe(1000);
  });
});
