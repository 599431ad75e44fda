import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Peers come from the registries at pinned versions, installed into the benchmark's own
 * git-ignored folder when missing or at another version (BENCHMARKING.md), never into the
 * workspace.
 */
export type Pins = Readonly<Record<string, string>>;

/** npm packages into `dir` (its own package.json, so npm never mistakes the workspace root). */
export function installNpmPeers(dir: string, pins: Pins, say: (line: string) => void): void {
  const missing = Object.entries(pins).filter(([name, version]) => {
    const pkg = join(dir, 'node_modules', name, 'package.json');
    return (
      !existsSync(pkg) ||
      (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version !== version
    );
  });
  if (missing.length === 0) return;
  mkdirSync(dir, { recursive: true });
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest))
    writeFileSync(manifest, '{ "name": "bench-peers", "private": true }\n');
  const specs = missing.map(([name, version]) => `${name}@${version}`);
  say(`installing ${specs.join(' ')} into ${dir}`);
  execFileSync(
    'npm',
    ['install', '--prefix', dir, '--no-audit', '--no-fund', '--save-exact', ...specs],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/** A Python virtualenv at `dir` holding pinned packages. */
export interface PythonVenv {
  /** The venv's interpreter. */
  readonly python: string;
  /** Creates the venv when missing and pip-installs what is missing or at another version. */
  install(say: (line: string) => void): void;
  /** `name version, …` as installed, for the report's notes. */
  versions(): string;
}

export function pythonVenv(dir: string, pins: Pins): PythonVenv {
  const python = join(dir, 'bin', 'python');
  const installed = (name: string): string | undefined => {
    if (!existsSync(python)) return undefined;
    try {
      return execFileSync(
        python,
        ['-c', `import importlib.metadata as m; print(m.version(${JSON.stringify(name)}))`],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      ).trim();
    } catch {
      return undefined;
    }
  };
  return {
    python,
    install(say) {
      if (!existsSync(python)) {
        say(`creating a virtualenv in ${dir}`);
        execFileSync('python3', ['-m', 'venv', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
      }
      const missing = Object.entries(pins).filter(([name, v]) => installed(name) !== v);
      if (missing.length === 0) return;
      const specs = missing.map(([name, v]) => `${name}==${v}`);
      say(`pip install ${specs.join(' ')}`);
      execFileSync(
        python,
        ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...specs],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
    },
    versions: () =>
      Object.keys(pins)
        .map((name) => `${name} ${installed(name) ?? '?'}`)
        .join(', '),
  };
}
