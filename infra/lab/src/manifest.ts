import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

/**
 * The manifest: which parts `netlab up` runs and how. It is data, so that a test (or a user) can
 * hand the supervisor another one as JSON (`NETLAB_MANIFEST=path.json`):
 *
 * ```json
 * { "parts": [
 *   { "name": "static", "workspace": "services/static", "port": 8081,
 *     "env": { "STATIC_ROOT": "${REPO_ROOT}/services/static/public" } },
 *   { "name": "tcp-echo", "workspace": "services/tcp-echo", "port": 7001, "scheme": "tcp",
 *     "healthPortEnv": "HEALTH_PORT", "healthPort": 8084 }
 * ] }
 * ```
 */

/** Names the lab uses itself, for its own log files and status rows. */
export const RESERVED_PART_NAMES: readonly string[] = ['nats', 'netlab'];

/** Variables the supervisor sets on every instance; a manifest may not set them. */
export const LAB_OWNED_ENV: readonly string[] = [
  'PORT',
  'HOST',
  'NATS_URL',
  'NATS_USER',
  'NATS_PASSWORD',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'NETLAB_CONTROL_SOCKET',
  'NETLAB_INSTANCE',
];

/** How many instances `scale` may run of one part: a dev lab, not a cluster. */
export const MAX_INSTANCES = 16;

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

const partSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,30}$/, 'expected lower-case letters, digits and dashes')
      .refine((n) => !RESERVED_PART_NAMES.includes(n), {
        message: `is reserved (${RESERVED_PART_NAMES.join(', ')})`,
      }),
    /** The workspace directory, relative to the repository root (or absolute). */
    workspace: z.string().min(1),
    /** The script `node` runs, relative to the workspace. */
    entry: z.string().min(1).default('dist/main.js'),
    args: z.array(z.string()).default([]),
    /** Extra variables; `${REPO_ROOT}` and `${NETLAB_DIR}` are replaced in the values. */
    env: z
      .record(z.string().regex(ENV_NAME, 'expected an upper-case variable name'), z.string())
      .default({}),
    instances: z.number().int().min(0).max(MAX_INSTANCES).default(1),
    /** PORT of the first instance; further instances get a free port. 0: always a free port. */
    port: z.number().int().min(0).max(65535),
    /** Only for the URL shown in status: `http://` or `tcp://`. */
    scheme: z.enum(['http', 'tcp']).default('http'),
    /** Polled until it answers 200, on the health port when there is one, else on PORT. */
    readinessPath: z.string().startsWith('/').default('/readyz'),
    /** For parts whose HTTP health endpoints live on a port of their own (tcp-echo). */
    healthPortEnv: z.string().regex(ENV_NAME, 'expected an upper-case variable name').optional(),
    healthPort: z.number().int().min(0).max(65535).optional(),
    enabled: z.boolean().default(true),
  })
  .strict()
  .superRefine((part, ctx) => {
    for (const key of Object.keys(part.env)) {
      if (LAB_OWNED_ENV.includes(key) || key === part.healthPortEnv) {
        ctx.addIssue({
          code: 'custom',
          path: ['env', key],
          message: 'is set by the supervisor for each instance',
        });
      }
    }
    if (part.healthPort !== undefined && part.healthPortEnv === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['healthPort'],
        message: 'needs healthPortEnv (the variable that carries it)',
      });
    }
  });

const manifestSchema = z
  .object({ parts: z.array(partSchema) })
  .strict()
  .superRefine((m, ctx) => {
    const names = new Set<string>();
    const ports = new Map<number, string>();
    m.parts.forEach((part, i) => {
      if (names.has(part.name)) {
        ctx.addIssue({ code: 'custom', path: ['parts', i, 'name'], message: 'is used twice' });
      }
      names.add(part.name);
      for (const port of [part.port, part.healthPort ?? 0]) {
        if (port === 0) continue;
        const owner = ports.get(port);
        if (owner !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['parts', i, 'port'],
            message: `port ${port} is already ${owner}'s`,
          });
        }
        ports.set(port, part.name);
      }
    });
  });

/** What a manifest entry may say; omitted fields take the defaults above. */
export type PartInput = z.input<typeof partSchema>;
/** A validated part definition, with every default filled in. */
export type PartDefinition = Readonly<z.output<typeof partSchema>>;

export class ManifestError extends Error {
  constructor(source: string, problems: readonly string[]) {
    super([`invalid manifest ${source}:`, ...problems.map((p) => `  ${p}`)].join('\n'));
    this.name = 'ManifestError';
  }
}

/** Validates manifest data (parsed JSON or the built-in list); throws {@link ManifestError}. */
export function parseManifest(data: unknown, source: string): readonly PartDefinition[] {
  const result = manifestSchema.safeParse(data);
  if (!result.success) {
    throw new ManifestError(
      source,
      result.error.issues.map((issue) => {
        const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`));
        return `${path.join('').replace(/^\./, '') || '(root)'}: ${issue.message}`;
      }),
    );
  }
  return Object.freeze(result.data.parts.map((p) => Object.freeze(p)));
}

/** Reads and validates a JSON manifest file. */
export function loadManifestFile(path: string): readonly PartDefinition[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ManifestError(path, [`cannot read it: ${(err as Error).message}`]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(path, [`not JSON: ${(err as Error).message}`]);
  }
  return parseManifest(data, path);
}

/** Where a part's entry script is, for `node` and for the "did you build it?" check. */
export function entryPath(part: PartDefinition, repoRoot: string): string {
  const workspace = isAbsolute(part.workspace) ? part.workspace : resolve(repoRoot, part.workspace);
  return resolve(workspace, part.entry);
}

/** Replaces `${REPO_ROOT}` and `${NETLAB_DIR}` in a part's env values; nothing else is expanded. */
export function expandPartEnv(
  env: Readonly<Record<string, string>>,
  vars: { repoRoot: string; labDir: string },
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    out[key] = value
      .replaceAll('${REPO_ROOT}', vars.repoRoot)
      .replaceAll('${NETLAB_DIR}', vars.labDir);
  }
  return out;
}
