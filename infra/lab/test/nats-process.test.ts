import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNatsServer, findExecutable } from '../src/nats-process';

describe('findExecutable', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'netlab-bin-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const executable = (sub: string): string => {
    const path = join(dir, sub);
    writeFileSync(path, '#!/bin/sh\n');
    chmodSync(path, 0o755);
    return path;
  };

  it('finds a program on PATH', () => {
    const path = executable('nats-server');
    expect(findExecutable('nats-server', `/nonexistent:${dir}`, [])).toBe(path);
  });

  it('looks in the extra directories (sbin) when PATH lacks it', () => {
    const path = executable('nats-server');
    expect(findExecutable('nats-server', '/nonexistent', [dir])).toBe(path);
  });

  it('skips files that are not executable', () => {
    writeFileSync(join(dir, 'nats-server'), '');
    expect(findExecutable('nats-server', dir, [])).toBeUndefined();
  });
});

describe('ensureNatsServer', () => {
  it('uses nats-server where it is, and runs nothing', async () => {
    const ran: string[] = [];
    const found = await ensureNatsServer({
      find: () => '/usr/sbin/nats-server',
      isRoot: true,
      run: (cmd) => Promise.resolve(ran.push(cmd) && 0),
      write: () => undefined,
    });
    expect(found).toBe('/usr/sbin/nats-server');
    expect(ran).toEqual([]);
  });

  it('says how to install it when not root, and runs nothing', async () => {
    let written = '';
    const ran: string[] = [];
    const found = await ensureNatsServer({
      find: () => undefined,
      isRoot: false,
      run: (cmd) => Promise.resolve(ran.push(cmd) && 0),
      write: (t) => void (written += t),
    });
    expect(found).toBeUndefined();
    expect(written).toContain('sudo apt-get install nats-server');
    expect(ran).toEqual([]);
  });

  it('as root, runs apt-get install, and apt-get update first when that fails', async () => {
    const ran: string[] = [];
    let installed = false;
    const found = await ensureNatsServer({
      find: () => (installed ? '/usr/sbin/nats-server' : undefined),
      isRoot: true,
      run: (cmd, args) => {
        ran.push([cmd, ...args].join(' '));
        const ok = ran.length > 1;
        if (ok && args[0] === 'install') installed = true;
        return Promise.resolve(ok ? 0 : 100);
      },
      write: () => undefined,
    });
    expect(ran).toEqual([
      'apt-get install -y nats-server',
      'apt-get update',
      'apt-get install -y nats-server',
    ]);
    expect(found).toBe('/usr/sbin/nats-server');
  });

  it('gives up, saying so, when the install fails', async () => {
    let written = '';
    const found = await ensureNatsServer({
      find: () => undefined,
      isRoot: true,
      run: () => Promise.resolve(1),
      write: (t) => void (written += t),
    });
    expect(found).toBeUndefined();
    expect(written).toContain('could not install nats-server');
  });
});
