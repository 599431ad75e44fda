import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@netlab/shared/testing';
import type { InstanceReport, LabStatus } from '../src/lab-protocol';
import {
  cli,
  createLabDir,
  httpGet,
  isAlive,
  mainJs,
  requireBuilt,
  startLab,
  status,
  type RunningLab,
} from './lab-harness';

/**
 * One lab for the whole file, driven through the real CLI the way a user would: the steps build on
 * each other (scale, then restart the two instances, then crash one, ...), so they run in order.
 */

const WAIT = { timeoutMs: 20_000, intervalMs: 100 };

const fixtureInstances = (s: LabStatus): InstanceReport[] =>
  s.parts.find((p) => p.name === 'fixture')?.instances ?? [];

const allRunning = (s: LabStatus, count: number): boolean => {
  const instances = fixtureInstances(s);
  return (
    instances.length === count && instances.every((i) => i.state === 'running' && i.pid !== null)
  );
};

describe('netlab up (supervisor and CLI over the control socket)', () => {
  let lab: RunningLab;

  const runningStatus = (count: number): Promise<LabStatus> =>
    waitFor(
      `${count} running fixture instance(s)`,
      async () => {
        const s = lab.remember(await status(lab.env));
        return allRunning(s, count) && s.nats.state === 'running' ? s : undefined;
      },
      WAIT,
    );

  beforeAll(async () => {
    requireBuilt();
    const { dir, env } = createLabDir();
    lab = startLab(dir, env);
    await runningStatus(1);
  }, 30_000);

  afterAll(async () => {
    await lab?.destroy();
  }, 30_000);

  it('starts nats-server and the fixture, and status lists both as running', async () => {
    const s = await status(lab.env);
    expect(s.nats).toMatchObject({ state: 'running', restarts: 0 });
    expect(s.nats.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect(s.nats.monitorUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(isAlive(s.nats.pid!)).toBe(true);
    const [instance] = fixtureInstances(s);
    expect(instance).toMatchObject({ name: 'fixture-1', state: 'running', restarts: 0 });
    // The live status comes from the instance itself, over its control connection.
    expect(instance!.live).toMatchObject({ pid: instance!.pid, draining: false, inFlight: 0 });
    expect((await httpGet(`${instance!.url}/readyz`)).status).toBe(200);
    expect((await httpGet(`${s.nats.monitorUrl!}/healthz`)).status).toBe(200);
  });

  it('passes the NATS URL to the part and prints the table once everything is ready', async () => {
    const s = await status(lab.env);
    await waitFor('the table on stdout', () => lab.output().includes('PART'), WAIT);
    expect(lab.output()).toContain(`fixture-1`);
    expect(lab.output()).toContain(s.nats.url!);
    // The fixture logs the NATS_URL it was given; the supervisor pretty-prints it.
    expect(lab.output()).toMatch(/fixture-1 \| \[[\d:.]+\] INFO: listening/);
    expect(readFileSync(join(lab.dir, 'logs', 'fixture.log'), 'utf8')).toContain(
      `"nats":"${s.nats.url!}"`,
    );
  });

  it('prints a readable status table', async () => {
    const result = await cli(['status'], lab.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^PART\s+INSTANCE\s+PID\s+STATE/m);
    expect(result.stdout).toMatch(/^nats\s+nats\s+\d+\s+running/m);
    expect(result.stdout).toMatch(/^fixture\s+fixture-1\s+\d+\s+running\s+0/m);
  });

  it('refuses a second up on the same lab directory', async () => {
    const second = await cli(['up'], lab.env);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('a lab is already running');
    // The first lab is untouched.
    expect(allRunning(await status(lab.env), 1)).toBe(true);
  });

  it('scale fixture 2 starts a second instance on a port of its own', async () => {
    const result = await cli(['scale', 'fixture', '2'], lab.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('fixture: 2 instances (started fixture-2)');
    const s = await runningStatus(2);
    const [one, two] = fixtureInstances(s);
    expect(two!.name).toBe('fixture-2');
    expect(two!.url).not.toBe(one!.url);
    expect((await httpGet(two!.url)).body).toBe('fixture-2\n');
  });

  it('restart fixture replaces every instance, one after the other', async () => {
    const before = fixtureInstances(lab.remember(await status(lab.env)));
    const result = await cli(['restart', 'fixture'], lab.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('restarted fixture-1');
    expect(result.stdout).toContain('restarted fixture-2');
    const after = fixtureInstances(await runningStatus(2));
    for (const [i, instance] of after.entries()) {
      expect(instance.pid).not.toBe(before[i]!.pid);
      // Asked to stop by the supervisor: not a crash.
      expect(instance.restarts).toBe(0);
      expect(isAlive(before[i]!.pid!)).toBe(false);
    }
  });

  it('restarts a crashed instance with a new pid and counts the restart', async () => {
    const [victim] = fixtureInstances(lab.remember(await status(lab.env)));
    await httpGet(`${victim!.url}/crash`).catch(() => undefined);
    const revived = await waitFor(
      'fixture-1 back with a new pid',
      async () => {
        const [instance] = fixtureInstances(lab.remember(await status(lab.env)));
        return instance?.state === 'running' && instance.pid !== victim!.pid ? instance : undefined;
      },
      WAIT,
    );
    expect(revived).toMatchObject({ name: 'fixture-1', restarts: 1, url: victim!.url });
    expect((await httpGet(`${revived.url}/readyz`)).status).toBe(200);
  });

  it('scale fixture 1 drains the extra instance over the control socket', async () => {
    const [, extra] = fixtureInstances(await status(lab.env));
    const result = await cli(['scale', 'fixture', '1'], lab.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('stopped fixture-2');
    expect(isAlive(extra!.pid!)).toBe(false);
    expect(fixtureInstances(await status(lab.env)).map((i) => i.name)).toEqual(['fixture-1']);
    const log = readFileSync(join(lab.dir, 'logs', 'fixture.log'), 'utf8');
    expect(log).toMatch(/"instance":"fixture-2".*"reason":"supervisor drain"/);
  });

  it('logs fixture prints the tail of the part log', async () => {
    const raw = await cli(['logs', 'fixture', '-n', '3', '--raw'], lab.env);
    expect(raw.code).toBe(0);
    const lines = raw.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const pretty = await cli(['logs', 'fixture'], lab.env);
    expect(pretty.stdout).toMatch(/fixture-\d +\| \[[\d:.]+\] INFO: /);
    const nats = await cli(['logs', 'nats', '-n', '50', '--raw'], lab.env);
    expect(nats.stdout).toContain('Listening for client connections');
  });

  it('logs -f streams new lines until Ctrl-C', async () => {
    const [instance] = fixtureInstances(await status(lab.env));
    const follower = spawn(
      process.execPath,
      [mainJs, 'logs', 'fixture', '-n', '0', '-f', '--raw'],
      {
        env: lab.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    follower.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = new Promise<number | null>((done) =>
      follower.once('exit', (code) => done(code)),
    );
    try {
      // Logged again until the follower has subscribed and shows it.
      await waitFor(
        'the followed line',
        async () => {
          await httpGet(`${instance!.url}/log?text=followed-line`);
          return out.includes('followed-line');
        },
        WAIT,
      );
      follower.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      follower.kill('SIGKILL');
    }
  });

  it('refuses unknown parts', async () => {
    const restart = await cli(['restart', 'nope'], lab.env);
    expect(restart.code).toBe(1);
    expect(restart.stderr).toContain("unknown part 'nope' (parts: nats, fixture)");
    expect((await cli(['scale', 'nats', '2'], lab.env)).code).toBe(1);
  });

  it('restart nats starts a new server on the same URL', async () => {
    const before = lab.remember(await status(lab.env));
    const result = await cli(['restart', 'nats'], lab.env);
    expect(result.code).toBe(0);
    const after = lab.remember(await status(lab.env));
    expect(after.nats.pid).not.toBe(before.nats.pid);
    expect(after.nats.url).toBe(before.nats.url);
    expect(after.nats.state).toBe('running');
    expect(isAlive(before.nats.pid!)).toBe(false);
  });

  it('restarts nats-server after it crashed, on the same URL', async () => {
    const before = lab.remember(await status(lab.env));
    process.kill(before.nats.pid!, 'SIGKILL');
    const after = await waitFor(
      'nats-server back with a new pid',
      async () => {
        const s = lab.remember(await status(lab.env));
        return s.nats.state === 'running' && s.nats.pid !== before.nats.pid ? s : undefined;
      },
      WAIT,
    );
    expect(after.nats).toMatchObject({ restarts: 1, url: before.nats.url });
  });

  it('stop stops every process, then the supervisor exits 0', async () => {
    const s = lab.remember(await status(lab.env));
    const pids = [s.nats.pid!, ...fixtureInstances(s).map((i) => i.pid!)];
    const result = await cli(['stop'], lab.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('lab stopped');
    expect(await lab.exited).toBe(0);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    // Asked the way nats-server calls a clean stop (SIGINT: exit 0; SIGTERM would be exit 1).
    expect(lab.output()).toMatch(/nats-server exited[^\n]*\bcode\W+0\b/);
    expect(existsSync(join(lab.dir, 'netlab.sock'))).toBe(false);
    const after = await cli(['status'], lab.env);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('no lab is running (start one with `make dev`)');
  });
});
