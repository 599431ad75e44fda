import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { listen } from '@netlab/shared/testing';
import { CLIENT_MAIN, startEchoProcess, type EchoProcess } from './fixtures/echo-process';

jest.setTimeout(30_000);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `netlab-echo` with `args`, feeding `stdin` when given. */
function netlabEcho(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLIENT_MAIN, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (stdin !== undefined) child.stdin!.end(stdin);
    else child.stdin!.end();
  });
}

let server: EchoProcess;
beforeAll(async () => {
  server = await startEchoProcess();
});
afterAll(async () => {
  await server.kill();
});

describe('netlab-echo', () => {
  it('sends a message and prints the reply and the round-trip time', async () => {
    const run = await netlabEcho(['-p', String(server.port), 'hello, echo']);
    expect(run).toMatchObject({ code: 0, stdout: 'hello, echo\n' });
    expect(run.stderr).toMatch(
      /^round trip [\d.]+ ms \(connect [\d.]+ ms\), 11 B over tcp 127\.0\.0\.1:\d+\n$/,
    );
  });

  it('does the same over UDP with --udp', async () => {
    const run = await netlabEcho(['--udp', '--port', String(server.port), 'datagram']);
    expect(run).toMatchObject({ code: 0, stdout: 'datagram\n' });
    expect(run.stderr).toMatch(/round trip [\d.]+ ms, 8 B over udp/);
  });

  it('in interactive mode echoes each line of stdin and finishes at the end of input', async () => {
    const run = await netlabEcho(['-p', String(server.port)], 'one\ntwo\nthree\n');
    expect(run).toMatchObject({ code: 0, stdout: 'one\ntwo\nthree\n' });
  });

  it('runs a quick load and prints a summary, or JSON', async () => {
    const text = await netlabEcho(['-p', String(server.port), '-n', '300', '-c', '3', '-s', '128']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/300 of 300 round trips of 128 B over 3 connections/);
    expect(text.stdout).toMatch(/round trips\/s {3}p50 [\d.]+ ms {3}p99 [\d.]+ ms/);
    const json = await netlabEcho(['-p', String(server.port), '-n', '100', '-u', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ transport: 'udp', roundTrips: 100, errors: 0 });
  });

  it('exits 1 with the error code when the server is unreachable', async () => {
    const probe = createServer();
    const { port } = await listen(probe, 0, '127.0.0.1');
    await new Promise((r) => probe.close(r));
    const run = await netlabEcho(['-p', String(port), 'hi']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^netlab-echo: TCP_ECHO_CLIENT_CONNECT_FAILED: /);
  });

  it('exits 2 with the usage on bad arguments', async () => {
    const run = await netlabEcho(['--port', 'x']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--port="x": expected an integer from 1 to 65535');
    expect(run.stderr).toContain('Usage: netlab-echo');
  });

  it('prints the usage with --help', async () => {
    const child = spawn(process.execPath, [CLIENT_MAIN, '--help'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    expect(out).toContain('--concurrency C');
  });
});
