import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateNatsPasswords, natsPasswordEnv, type NatsUser } from '@netlab/shared';
import { environmentOf, loadCompose, repoRoot, testEnv } from '../../docker/test/compose-model';

/**
 * The compose topology on separate "hosts": one Linux network namespace per instance, on a
 * private bridge with private addresses, each with a hosts file (/etc/netns/<ns>/hosts, which
 * `ip netns exec` mounts over /etc/hosts) so that it reaches the others by their compose service
 * names. Each host runs `node <workspace>/dist/main.js` with the environment compose gives it.
 *
 * Every name starts with a per-run prefix `nl<hex>`; {@link cleanLeftovers} removes what a crashed
 * run left behind (namespaces, bridges, veths and /etc/netns entries with that shape).
 */

export interface HostSpec {
  /** The host's name: the compose service (`static`), with a number when several (`static2`). */
  name: string;
  /** The compose service whose image and environment it runs; undefined for nats. */
  service?: 'static' | 'dynamic' | 'fetcher' | 'tcp-echo' | 'gateway';
}

export interface Host {
  readonly name: string;
  readonly service: string;
  readonly ns: string;
  readonly address: string;
  proc: ChildProcess | undefined;
  readonly logFile: string;
}

const PREFIX_SHAPE = /^nl[0-9a-f]{6}/;
const WORKSPACES: Record<NonNullable<HostSpec['service']>, string> = {
  static: 'services/static',
  dynamic: 'services/dynamic',
  fetcher: 'services/fetcher',
  'tcp-echo': 'services/tcp-echo',
  gateway: 'gateway',
};

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryRun(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // Already gone.
  }
}

/** Why namespaces cannot be made here (not root, no `ip`), or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `nl${randomBytes(3).toString('hex')}-probe`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'delete', probe);
    return undefined;
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    tryRun('ip', ['netns', 'delete', probe]);
  }
}

/**
 * Removes namespaces (with the processes inside), links and hosts files whose names start with
 * `prefix`, or, without one, every such thing a crashed run left behind.
 */
export function cleanLeftovers(prefix?: string): void {
  const mine = (name: string) =>
    prefix === undefined ? PREFIX_SHAPE.test(name) : name.startsWith(prefix);
  for (const line of ip('netns', 'list').split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    if (!mine(ns)) continue;
    // Processes still inside (a crashed run's parts) go first, or the namespace lingers.
    for (const pid of ip('netns', 'pids', ns)
      .split('\n')
      .filter((p) => p !== '')) {
      tryRun('kill', ['-9', pid]);
    }
    tryRun('ip', ['netns', 'delete', ns]);
  }
  for (const line of ip('-o', 'link', 'show').split('\n')) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? '';
    if (mine(name)) tryRun('ip', ['link', 'delete', name]);
  }
  if (existsSync('/etc/netns')) {
    for (const entry of execFileSync('ls', ['/etc/netns'], { encoding: 'utf8' }).split('\n')) {
      if (entry !== '' && mine(entry))
        rmSync(join('/etc/netns', entry), { recursive: true, force: true });
    }
  }
}

export interface NetnsLabOptions {
  hosts: readonly HostSpec[];
  /** Variables on top of compose's, per service (tests shorten timeouts). */
  overrides?: Partial<Record<string, Record<string, string>>>;
}

export interface NetnsLab {
  readonly prefix: string;
  readonly hosts: ReadonlyMap<string, Host>;
  readonly passwords: Readonly<Record<NatsUser, string>>;
  readonly dir: string;
  host(name: string): Host;
  /** Starts the host's process (nats-server, or its part). */
  start(name: string): void;
  /** Signals the host's process and waits for it to exit (bounded). */
  stop(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** iptables DROP on the host's eth0, both ways: it vanishes from the network. */
  cutOff(name: string): void;
  reconnect(name: string): void;
  /** Kills every process, deletes namespaces, bridge and hosts files. Safe to call twice. */
  teardown(): Promise<void>;
}

/** Creates the bridge, the hosts and their hosts files; starts nothing. */
export function createNetnsLab(opts: NetnsLabOptions): NetnsLab {
  const prefix = `nl${randomBytes(3).toString('hex')}`;
  const subnet = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]!}`;
  const bridge = `${prefix}br`;
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const passwords = generateNatsPasswords();
  const compose = loadCompose(testEnv());
  const hosts = new Map<string, Host>();
  let tornDown = false;

  const teardown = async (): Promise<void> => {
    if (tornDown) return;
    tornDown = true;
    await Promise.all([...hosts.keys()].map((n) => stopHost(n, 'SIGKILL')));
    cleanLeftovers(prefix);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${subnet}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    opts.hosts.forEach((spec, i) => {
      const ns = `${prefix}-${spec.name}`;
      const veth = `${prefix}v${i}`;
      const address = `${subnet}.${10 + i}`;
      ip('netns', 'add', ns);
      ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', `${prefix}p${i}`);
      ip('link', 'set', `${prefix}p${i}`, 'netns', ns);
      ip('-n', ns, 'link', 'set', `${prefix}p${i}`, 'name', 'eth0');
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('link', 'set', veth, 'master', bridge);
      ip('link', 'set', veth, 'up');
      hosts.set(spec.name, {
        name: spec.name,
        service: spec.service ?? 'nats',
        ns,
        address,
        proc: undefined,
        logFile: join(dir, `${spec.name}.log`),
      });
    });
    // Names as in compose: each host by its own name, and the service name on its first host
    // (`static` → static1); nobody dials a service name but nats, so this only serves people.
    const lines = ['127.0.0.1 localhost'];
    const aliased = new Set<string>();
    for (const h of hosts.values()) {
      const alias = h.name !== h.service && !aliased.has(h.service) ? ` ${h.service}` : '';
      aliased.add(h.service);
      lines.push(`${h.address} ${h.name}${alias}`);
    }
    for (const h of hosts.values()) {
      mkdirSync(join('/etc/netns', h.ns), { recursive: true });
      writeFileSync(join('/etc/netns', h.ns, 'hosts'), `${lines.join('\n')}\n`);
    }
  } catch (err) {
    cleanLeftovers(prefix);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const hostOf = (name: string): Host => {
    const h = hosts.get(name);
    if (h === undefined) throw new Error(`no host ${name}`);
    return h;
  };

  const envOf = (h: Host): Record<string, string> => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    if (h.service === 'nats') return { ...env, ...natsPasswordEnv(passwords) };
    const fromCompose = environmentOf(compose.services[h.service]!);
    for (const [k, v] of Object.entries(fromCompose)) {
      // The image mirrors the repository under /app.
      env[k] = v.replace(/^\/app\//, `${repoRoot}/`);
    }
    env.NATS_PASSWORD = passwords[h.service as NatsUser];
    env.NETLAB_INSTANCE = `${h.name}@${prefix}`;
    env.LOG_LEVEL = 'info';
    if (h.service === 'dynamic') {
      // MariaDB is compose's; here the default SQLite file, one per host, as `make dev` does.
      env.DATABASE_URL = `sqlite:${join(dir, `${h.name}.db`)}`;
    }
    if (h.service === 'fetcher') env.FETCH_DOWNLOADS_DIR = join(dir, `${h.name}-downloads`);
    return { ...env, ...(opts.overrides?.[h.service] ?? {}) };
  };

  const start = (name: string): void => {
    const h = hostOf(name);
    if (h.proc !== undefined && h.proc.exitCode === null && h.proc.signalCode === null) return;
    const args =
      h.service === 'nats'
        ? [
            '/usr/sbin/nats-server',
            '-c',
            join(repoRoot, 'infra', 'nats', 'nats.conf'),
            '-a',
            '0.0.0.0',
            '-p',
            '4222',
            '-m',
            '8222',
            '-js',
            '-sd',
            join(dir, 'nats-store'),
          ]
        : [
            process.execPath,
            join(repoRoot, WORKSPACES[h.service as keyof typeof WORKSPACES], 'dist', 'main.js'),
          ];
    const log = createWriteStream(h.logFile, { flags: 'a' });
    // `ip netns exec` enters the namespace (and its /etc/hosts) and execs the command: the pid is
    // the part's own.
    const proc = spawn('ip', ['netns', 'exec', h.ns, ...args], {
      cwd: repoRoot,
      env: envOf(h),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout.pipe(log, { end: false });
    proc.stderr.pipe(log, { end: false });
    proc.once('exit', () => log.end());
    h.proc = proc;
  };

  const stopHost = async (name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const h = hostOf(name);
    const proc = h.proc;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };

  const iptables = (h: Host, action: '-A' | '-D'): void => {
    for (const rule of [
      ['INPUT', '-i', 'eth0', '-j', 'DROP'],
      ['OUTPUT', '-o', 'eth0', '-j', 'DROP'],
    ]) {
      execFileSync('ip', ['netns', 'exec', h.ns, 'iptables', action, ...rule], { stdio: 'ignore' });
    }
  };

  return {
    prefix,
    hosts,
    passwords,
    dir,
    host: hostOf,
    start,
    stop: stopHost,
    cutOff: (name) => iptables(hostOf(name), '-A'),
    reconnect: (name) => iptables(hostOf(name), '-D'),
    teardown,
  };
}
