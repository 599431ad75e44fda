import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reapOrphans, writePidFile } from '../src/pid-file';

describe('reapOrphans', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'netlab-pids-'));
    path = join(dir, 'netlab.pids.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('kills the live processes whose command line still matches, then removes the file', () => {
    writePidFile(path, 1, [
      { pid: 100, name: 'nats', command: '/usr/sbin/nats-server' },
      { pid: 101, name: 'static-1', command: '/repo/services/static/dist/main.js' },
      { pid: 102, name: 'static-2', command: '/repo/services/static/dist/main.js' },
    ]);
    const killed: number[] = [];
    const reaped = reapOrphans(path, {
      isAlive: (pid) => pid !== 102,
      // 101 is alive but its pid now belongs to something else.
      commandLineOf: (pid) => (pid === 100 ? '/usr/sbin/nats-server -c x' : 'bash'),
      kill: (pid) => void killed.push(pid),
    });
    expect(killed).toEqual([100]);
    expect(reaped.map((r) => r.name)).toEqual(['nats']);
    expect(existsSync(path)).toBe(false);
  });

  it('leaves a process alone when its command line cannot be read', () => {
    writePidFile(path, 1, [{ pid: 100, name: 'nats', command: 'nats-server' }]);
    const killed: number[] = [];
    reapOrphans(path, {
      isAlive: () => true,
      commandLineOf: () => undefined,
      kill: (p) => void killed.push(p),
    });
    expect(killed).toEqual([]);
  });

  it('ignores a missing or damaged file', () => {
    const deps = { isAlive: () => true, commandLineOf: () => 'x', kill: () => undefined };
    expect(reapOrphans(path, deps)).toEqual([]);
    writeFileSync(path, '{"supervisor":');
    expect(reapOrphans(path, deps)).toEqual([]);
  });
});
