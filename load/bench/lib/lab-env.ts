import { labParts } from '../../../infra/lab/src/parts.ts';

/**
 * The environment `netlab up` gives a part beyond its ports (NODE_OPTIONS, …), so that a
 * benchmark runs the part as the lab runs it.
 */
export function labEnv(part: string): Readonly<Record<string, string>> {
  const entry = labParts.find((p) => p.name === part);
  if (entry === undefined) throw new Error(`no part ${part} in infra/lab/src/parts.ts`);
  return entry.env ?? {};
}

/** `K=v K=v`, for a report's notes. */
export function describeEnv(env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}
