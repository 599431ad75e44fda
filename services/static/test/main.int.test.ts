import { execFile } from 'node:child_process';
import { truncate, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { Svcm } from '@nats-io/services';
import { startNatsServer, waitFor, type NatsServerHandle } from '@netlab/shared/testing';
import { fetchRaw, tempDir, writeTree } from './fixture';
import { startPart, type PartProcess } from './part-process';

jest.setTimeout(30_000);

const execFileP = promisify(execFile);

describe('netlab-static, the process', () => {
  let root: { dir: string; dispose: () => Promise<void> };
  const started: PartProcess[] = [];
  const start = (...a: Parameters<typeof startPart>) => {
    const p = startPart(...a);
    started.push(p);
    return p;
  };

  beforeAll(async () => {
    root = await tempDir();
    await writeTree(root.dir, {
      'index.html': '<h1>served by netlab-static</h1>\n',
      'docs/readme.txt': 'docs',
    });
  });
  afterEach(() => {
    for (const p of started.splice(0)) p.kill();
  });
  afterAll(() => root.dispose());

  it('serves the current directory given only a port, fetched with Python urllib', async () => {
    // The lesson's way: `python3 -m http.server 8000` → `netlab-static 0` in the site directory.
    const part = start(['0'], { cwd: root.dir, env: { HOST: '127.0.0.1' } });
    const port = await part.listening();
    const { stdout } = await execFileP('python3', [
      '-c',
      'import sys, urllib.request\n' +
        'r = urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=10)\n' +
        'sys.stdout.write("%d %s\\n%s" % (r.status, r.headers["Content-Type"], r.read().decode()))',
      String(port),
    ]);
    expect(stdout).toBe('200 text/html; charset=utf-8\n<h1>served by netlab-static</h1>\n');
  });

  it('takes --root, --host and --listing, and flags win over env', async () => {
    const part = start(['0', '--root', root.dir, '--host', '127.0.0.1', '--listing'], {
      env: { PORT: 'not-a-port', STATIC_ROOT: '/does/not/exist', HOST: '::' },
    });
    const port = await part.listening();
    const r = await fetchRaw(port, '/docs/');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toContain('readme.txt');
  });

  it.each([['eighty'], ['70000'], ['8080', '9090']])(
    'prints the usage and exits 2 for the arguments %p',
    async (...args) => {
      const part = start(args, { cwd: root.dir });
      await expect(part.exited).resolves.toEqual({ code: 2, signal: null });
      expect(part.stderr()).toContain('usage: netlab-static [port]');
    },
  );

  it('says that a root that does not exist does not, and exits 2', async () => {
    const part = start(['0', '--root', join(root.dir, 'nope')]);
    await expect(part.exited).resolves.toEqual({ code: 2, signal: null });
    expect(part.stderr()).toContain(`STATIC_ROOT="${join(root.dir, 'nope')}": no such directory`);
  });

  it('prints the usage and exits 0 for --help', async () => {
    const part = start(['--help']);
    await expect(part.exited).resolves.toEqual({ code: 0, signal: null });
  });

  it('on SIGTERM turns /-/readyz to 503, finishes a download in flight, and exits 0', async () => {
    const dir = await tempDir();
    try {
      await writeFile(join(dir.dir, 'big.bin'), '');
      await truncate(join(dir.dir, 'big.bin'), 64 * 1024 * 1024);
      const part = start(['0', '--root', dir.dir, '--host', '127.0.0.1'], {
        env: { SHUTDOWN_GRACE: '20s' },
      });
      const port = await part.listening();
      // A download that the client holds back, so that it is still in flight at SIGTERM.
      const download = new Promise<number>((resolve, reject) => {
        get({ host: '127.0.0.1', port, path: '/big.bin', agent: false }, (res) => {
          let n = 0;
          res.pause();
          res.on('data', (c: Buffer) => (n += c.length));
          res.on('end', () => resolve(n));
          res.on('error', reject);
          part.proc.kill('SIGTERM');
          void waitFor('shutdown to begin', () =>
            part.lines.some((l) => l.msg === 'shutting down'),
          ).then(() => res.resume());
        }).on('error', reject);
      });
      await expect(download).resolves.toBe(64 * 1024 * 1024);
      await expect(part.exited).resolves.toEqual({ code: 0, signal: null });
    } finally {
      await dir.dispose();
    }
  });

  describe('with NATS', () => {
    let nats: NatsServerHandle;
    beforeAll(async () => {
      nats = await startNatsServer();
    });
    afterAll(() => nats.dispose());

    it('registers as the micro service "static" with its URL and readiness path', async () => {
      const part = start(['0', '--root', root.dir, '--host', '127.0.0.1'], {
        env: { NATS_URL: nats.url, NETLAB_INSTANCE: 'static-7' },
      });
      const port = await part.listening();
      const nc = await connect({ servers: nats.url });
      try {
        const client = new Svcm(nc).client();
        const infos = await waitFor('static to answer $SRV.INFO', async () => {
          const found = [];
          for await (const info of await client.info('static')) found.push(info);
          return found.length > 0 ? found : undefined;
        });
        expect(infos[0]).toMatchObject({
          name: 'static',
          version: '0.1.0',
          metadata: { http: `http://127.0.0.1:${port}`, readiness: '/-/readyz' },
        });
      } finally {
        await nc.close();
      }
      part.proc.kill('SIGTERM');
      await expect(part.exited).resolves.toEqual({ code: 0, signal: null });
    });
  });
});
