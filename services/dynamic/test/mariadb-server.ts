import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2';
import { waitFor } from '@netlab/shared/testing';

/**
 * A real MariaDB for a test: Debian's `mariadbd` (infra/scripts/setup.sh mariadb installs it) run
 * as a child process on a free loopback port with a throw-away data directory, a `stock` database
 * and a user with a password. The system service is never touched.
 */
export interface MariaDbHandle {
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** SIGTERM and wait: the server shuts down cleanly. */
  stop(): Promise<void>;
  /** Starts again on the same port and data directory. */
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server hangs with its sockets open, then resumes. */
  pause(): void;
  resume(): void;
  dispose(): Promise<void>;
}

const USER = 'netlab';
const PASSWORD = 'netlab-test-pw';

function find(name: string, dirs: readonly string[]): string {
  for (const dir of dirs) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new Error(
    `${name} not found (install Debian's mariadb-server: infra/scripts/setup.sh mariadb)`,
  );
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function exited(proc: ChildProcess): Promise<void> {
  return proc.exitCode !== null || proc.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => proc.once('exit', () => resolve()));
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = createConnection({
      host: '127.0.0.1',
      port,
      user: USER,
      password: PASSWORD,
      database: 'stock',
      connectTimeout: 1000,
    });
    conn.connect((err) => {
      conn.destroy();
      resolve(err === null);
    });
    conn.on('error', () => resolve(false));
  });
}

export async function startMariaDb(opts: { startTimeoutMs?: number } = {}): Promise<MariaDbHandle> {
  const bins = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];
  const mariadbd = find('mariadbd', bins);
  const installDb = find('mariadb-install-db', bins);
  const dir = await mkdtemp(join(tmpdir(), 'netlab-mariadb-'));
  const datadir = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  await promisify(execFile)(installDb, [
    '--no-defaults',
    `--datadir=${datadir}`,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
    ...(asRoot ? ['--user=root'] : []),
  ]);
  const initFile = join(dir, 'init.sql');
  await writeFile(
    initFile,
    [
      'CREATE DATABASE IF NOT EXISTS stock CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;',
      `CREATE USER IF NOT EXISTS '${USER}'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}';`,
      `GRANT ALL PRIVILEGES ON stock.* TO '${USER}'@'127.0.0.1';`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  let proc: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const child = spawn(
      mariadbd,
      [
        '--no-defaults',
        `--datadir=${datadir}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dir, 'mysqld.sock')}`,
        `--pid-file=${join(dir, 'mysqld.pid')}`,
        `--init-file=${initFile}`,
        `--log-error=${join(dir, 'error.log')}`,
        '--skip-name-resolve',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=32M',
        ...(asRoot ? ['--user=root'] : []),
      ],
      { stdio: 'ignore' },
    );
    proc = child;
    await waitFor(
      `MariaDB on port ${port}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`mariadbd exited with ${child.exitCode}`);
        return canConnect(port);
      },
      { timeoutMs: opts.startTimeoutMs ?? 30_000, intervalMs: 100 },
    );
  };
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (proc === undefined) return;
    const p = proc;
    if (p.exitCode === null && p.signalCode === null) p.kill(sig);
    await exited(p);
  };

  await start();
  return {
    url: `mysql://${USER}:${PASSWORD}@127.0.0.1:${port}/stock`,
    port,
    get pid() {
      return proc?.pid;
    },
    stop: () => signal('SIGTERM'),
    start,
    pause: () => void proc?.kill('SIGSTOP'),
    resume: () => void proc?.kill('SIGCONT'),
    async dispose() {
      proc?.kill('SIGCONT');
      await signal('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
