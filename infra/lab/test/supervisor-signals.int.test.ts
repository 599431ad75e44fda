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

  it('after a supervisor was killed, the next up ends what it left behind and starts', async () => {
    const { dir, env } = createLabDir();
    const first = startLab(dir, env);
    labs.push(first);
    const orphans = pidsOf(await ready(first, 1));
    // SIGKILL: no clean-up at all; the children live on in their own process groups.
    first.proc.kill('SIGKILL');
    await first.exited;
    for (const pid of orphans) expect(isAlive(pid)).toBe(true);

    const second = startLab(dir, env);
    labs.push(second);
    const s = await ready(second, 1);
    await waitFor('the orphans to be gone', () => orphans.every((pid) => !isAlive(pid)), WAIT);
    expect(pidsOf(s).some((pid) => orphans.includes(pid))).toBe(false);
    expect(second.output()).toContain('left running by a previous supervisor');
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
