import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './compose-model';

/** The invariants of infra/docker/Dockerfile, and hadolint on both Dockerfiles. */

const dockerfile = readFileSync(join(repoRoot, 'infra', 'docker', 'Dockerfile'), 'utf8');
const k6Dockerfile = readFileSync(join(repoRoot, 'infra', 'docker', 'k6.Dockerfile'), 'utf8');

/** Instructions with their continuation lines joined, comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op = '', ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions of each stage, by stage name. */
function stages(text: string): Map<string, { op: string; args: string }[]> {
  const out = new Map<string, { op: string; args: string }[]>();
  let current: { op: string; args: string }[] | undefined;
  for (const ins of instructions(text)) {
    if (ins.op === 'FROM') {
      current = [];
      out.set(/\bAS\s+(\S+)/i.exec(ins.args)?.[1] ?? `stage${out.size}`, current);
    }
    current?.push(ins);
  }
  return out;
}

const byStage = stages(dockerfile);
const runtime = [...byStage.values()].at(-1)!;

describe('infra/docker/Dockerfile', () => {
  it('pins its base image to the Node version that setup.sh installs', () => {
    const nodeImage = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    const setupVersion = /^NODE_VERSION="([\d.]+)"/m.exec(
      readFileSync(join(repoRoot, 'infra', 'scripts', 'setup.sh'), 'utf8'),
    )?.[1];
    expect(nodeImage).toBe(`node:${setupVersion}-bookworm-slim`);
    for (const ins of instructions(dockerfile).filter((i) => i.op === 'FROM')) {
      expect(ins.args).toMatch(/^\$\{NODE_IMAGE\} AS \w+$/);
    }
  });

  it('pins the k6 image bases to versions, never latest', () => {
    const froms = instructions(k6Dockerfile).filter((i) => i.op === 'FROM');
    expect(froms.length).toBe(2);
    for (const f of froms) expect(f.args).toMatch(/^[\w./-]+:\d+\.\d+(\.\d+)?[\w.-]*( AS \w+)?$/);
  });

  it('builds with dev dependencies and runs with production ones only (npm ci --omit=dev)', () => {
    expect([...byStage.keys()]).toEqual(['manifests', 'build', 'deps', 'runtime']);
    const run = (stage: string) =>
      byStage
        .get(stage)!
        .filter((i) => i.op === 'RUN')
        .map((i) => i.args)
        .join('\n');
    expect(run('build')).toMatch(/npm ci --no-audit/);
    expect(run('build')).toMatch(/tsc -b "\$\{WORKSPACE\}"/);
    expect(run('deps')).toMatch(/npm ci --omit=dev --workspace="\$\{WORKSPACE\}"/);
    const copies = runtime.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies).toContain('--from=deps /app/node_modules ./node_modules');
    expect(copies.some((c) => c.startsWith('--from=build'))).toBe(true);
    // Nothing of the build stage's node_modules (dev dependencies) reaches the runtime.
    expect(copies.filter((c) => c.includes('--from=build') && c.includes('node_modules'))).toEqual(
      [],
    );
  });

  it('runs as a non-root user, node dist/main.js, with a healthcheck', () => {
    const user = runtime.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(runtime.find((i) => i.op === 'CMD')?.args).toBe('["node", "dist/main.js"]');
    expect(runtime.find((i) => i.op === 'HEALTHCHECK')?.args).toMatch(
      /CMD \["node", .*healthcheck\.js"\]/,
    );
    // USER comes after every COPY and RUN: nothing runs as root at run time.
    const userAt = runtime.findIndex((i) => i.op === 'USER');
    expect(runtime.slice(userAt).filter((i) => i.op === 'RUN')).toEqual([]);
  });

  it('copies every workspace manifest before npm ci, so the lock matches the workspaces', () => {
    const rootPkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      workspaces: string[];
    };
    const dirs = rootPkg.workspaces.flatMap((w) =>
      w.endsWith('/*')
        ? execFileSync('ls', [join(repoRoot, w.slice(0, -2))], { encoding: 'utf8' })
            .split('\n')
            .filter(
              (d) => d !== '' && existsSync(join(repoRoot, w.slice(0, -2), d, 'package.json')),
            )
            .map((d) => `${w.slice(0, -2)}/${d}`)
        : [w],
    );
    const copies = (stage: string) =>
      byStage
        .get(stage)!
        .filter((i) => i.op === 'COPY')
        .map((i) => i.args);
    for (const dir of dirs) expect(copies('manifests')).toContain(`${dir}/package.json ${dir}/`);
    // Both dependency installs start from those manifests.
    for (const stage of ['build', 'deps'])
      expect(copies(stage)[0]).toBe('--from=manifests /app/ ./');
  });

  it('keeps the build context small (.dockerignore)', () => {
    const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['**/node_modules', '**/dist', '.git', '.tools', '.lab', '.env']) {
      expect(ignore).toContain(entry);
    }
  });

  it('passes hadolint (infra/scripts/setup.sh docker installs it)', () => {
    const hadolint = join(repoRoot, '.tools', 'hadolint', 'bin', 'hadolint');
    expect({ hadolint, installed: existsSync(hadolint) }).toEqual({ hadolint, installed: true });
    const result = spawnSync(
      hadolint,
      ['--no-color', 'infra/docker/Dockerfile', 'infra/docker/k6.Dockerfile'],
      { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 },
    );
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('hadolint is not vacuous: it flags an unpinned image and a root user', () => {
    const hadolint = join(repoRoot, '.tools', 'hadolint', 'bin', 'hadolint');
    const result = spawnSync(hadolint, ['--no-color', '-'], {
      input: 'FROM node:latest\nRUN apt-get install -y curl\nUSER root\n',
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).not.toBe(0);
    expect(result.stdout).toMatch(/DL3007/);
    expect(result.stdout).toMatch(/DL3002/);
  });
});
