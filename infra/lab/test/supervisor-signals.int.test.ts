import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@netlab/shared/testing';
import type { LabStatus } from '../src/lab-protocol';
import {
  createLabDir,
  isAlive,
  requireBuilt,
  startLab,
  status,
  type RunningLab,
} from './lab-harness';

const WAIT = { timeoutMs: 20_000, intervalMs: 100 };

const pidsOf = (s: LabStatus): number[] => [
  s.nats.pid!,
  ...s.parts.flatMap((p) => p.instances.map((i) => i.pid!)),
];

const ready = (lab: RunningLab, instances: number): Promise<LabStatus> =>
  waitFor(
    'the lab to be up',
    async () => {
      const s = lab.remember(await status(lab.env));
      const running = s.parts.flatMap((p) => p.instances).filter((i) => i.state === 'running');
      return s.nats.state === 'running' && running.length === instances ? s : undefined;
    },
    WAIT,
  );

describe('netlab up and signals', () => {
  const labs: RunningLab[] = [];
  beforeAll(() => requireBuilt());
  afterAll(async () => {
    for (const lab of labs) await lab.destroy();
  }, 30_000);

  it('stops everything gracefully on SIGINT (Ctrl-C) and exits 0', async () => {
    const { dir, env } = createLabDir({ instances: 2 });
    const lab = startLab(dir, env);
    labs.push(lab);
    const pids = pidsOf(await ready(lab, 2));
    lab.proc.kill('SIGINT');
    expect(await lab.exited).toBe(0);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(lab.output()).toContain('supervisor drain');
    expect(lab.output()).toContain('lab stopped');
    expect(existsSync(join(dir, 'netlab.sock'))).toBe(false);
  });

  it('after a supervisor was killed, its instances shut themselves down and the next up ends nats-server', async () => {
    const { dir, env } = createLabDir();
    const first = startLab(dir, env);
    labs.push(first);
    const s = await ready(first, 1);
    const natsPid = s.nats.pid!;
    const instancePids = s.parts.flatMap((p) => p.instances.map((i) => i.pid!));
    // SIGKILL: no clean-up at all; the children live on in their own process groups.
    first.proc.kill('SIGKILL');
    await first.exited;
    // An instance notices its control socket is gone for good and drains itself…
    await waitFor(
      'the orphaned instances to exit',
      () => instancePids.every((pid) => !isAlive(pid)),
      WAIT,
    );
    // …nats-server has no such link and is still running, until the next supervisor ends it.
    expect(isAlive(natsPid)).toBe(true);

    const second = startLab(dir, env);
    labs.push(second);
    const next = await ready(second, 1);
    await waitFor('the old nats-server to be gone', () => !isAlive(natsPid), WAIT);
    expect(pidsOf(next)).not.toContain(natsPid);
    expect(second.output()).toContain('left running by a previous supervisor');
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 40_000);
});
