import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, createLabDir, requireBuilt } from './lab-harness';

describe('netlab CLI without a running lab', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => requireBuilt());
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'netlab-cli-'));
    env = { ...process.env, NETLAB_DIR: dir, NO_COLOR: '1' };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([['status'], ['stop'], ['restart', 'x'], ['scale', 'x', '2'], ['logs', 'x']])(
    '%s says no lab is running and exits 1',
    async (...args) => {
      const result = await cli(args, env);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('no lab is running (start one with `make dev`)\n');
    },
  );

  it('says no lab is running when only a stale socket file is left', async () => {
    writeFileSync(join(dir, 'netlab.sock'), '');
    const result = await cli(['status'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no lab is running');
  });

  it('prints the usage and exits 2 on bad arguments', async () => {
    for (const args of [[], ['launch'], ['scale', 'fixture'], ['logs', 'x', '-n', 'many']]) {
      const result = await cli(args, env);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('Usage: netlab <command>');
    }
  });

  it('help prints the usage and exits 0', async () => {
    const result = await cli(['help'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('scale <part> <n>');
  });

  it('up exits 2 naming every invalid variable', async () => {
    const result = await cli(['up'], { ...env, NATS_PORT: 'abc', NETLAB_STOP_GRACE: 'soon' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('NATS_PORT="abc"');
    expect(result.stderr).toContain('NETLAB_STOP_GRACE="soon"');
  });

  it('up exits 2 on an invalid manifest', async () => {
    const manifest = join(dir, 'bad.json');
    writeFileSync(manifest, JSON.stringify({ parts: [{ name: 'nats', workspace: '.', port: 1 }] }));
    const result = await cli(['up'], { ...env, NETLAB_MANIFEST: manifest });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`invalid manifest ${manifest}:`);
    expect(result.stderr).toContain('parts[0].name: is reserved');
  });

  it('up exits 1, starting nothing, when a part is not built', async () => {
    const lab = createLabDir({ entry: 'missing.js' });
    try {
      const result = await cli(['up'], lab.env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('not built yet');
      expect(result.stderr).toContain('missing.js');
    } finally {
      rmSync(lab.dir, { recursive: true, force: true });
    }
  });
});
