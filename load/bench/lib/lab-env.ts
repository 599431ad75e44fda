import { join } from 'node:path';
import { expandPartEnv } from '../../../infra/lab/src/manifest.ts';
import { labParts } from '../../../infra/lab/src/parts.ts';
import { repoRoot } from './report.ts';

/**
 * The environment `netlab up` gives a part beyond its ports (NODE_OPTIONS, …), so that a
 * benchmark runs the part as the lab runs it: `${REPO_ROOT}` and `${NETLAB_DIR}` replaced as
 * `netlab up` replaces them, the lab directory being its default (`<repo>/.lab`) unless given.
 */
export function labEnv(part: string, labDir?: string): Readonly<Record<string, string>> {
  const entry = labParts.find((p) => p.name === part);
  if (entry === undefined) throw new Error(`no part ${part} in infra/lab/src/parts.ts`);
  const root = repoRoot(process.cwd());
  return expandPartEnv(entry.env ?? {}, { repoRoot: root, labDir: labDir ?? join(root, '.lab') });
}

/** `K=v K=v`, for a report's notes. */
export function describeEnv(env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}
