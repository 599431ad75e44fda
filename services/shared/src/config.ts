import { parseArgs } from 'node:util';
import { z } from 'zod';
import { NetlabError, sharedErrorCodes } from './errors';

/**
 * Configuration is read once, in main.ts, from environment variables (and argv where a part takes
 * flags) into a frozen typed object. A schema is a `z.object` keyed by variable name, built from
 * the {@link env} field helpers so that every error names the accepted form; `.transform()` on the
 * object gives the service its own camelCase shape.
 *
 * An empty variable counts as unset (docker compose writes `FOO=` for an unset `${FOO}`).
 */

/** The raw source: process.env, or argv mapped onto the same variable names. */
export type ConfigSource = Readonly<Record<string, string | undefined>>;

/** One bad variable: its name, what it was, and what would have been accepted. */
export interface ConfigIssue {
  readonly variable: string;
  readonly value: string | undefined;
  readonly message: string;
}

export class ConfigError extends NetlabError {
  readonly issues: readonly ConfigIssue[];
  readonly usage: string | undefined;

  constructor(issues: readonly ConfigIssue[], usage?: string) {
    super(
      { code: 'CONFIG_INVALID', ...sharedErrorCodes.CONFIG_INVALID },
      ['Invalid configuration:', ...issues.map(formatIssue)].join('\n'),
    );
    this.name = 'ConfigError';
    this.issues = issues;
    this.usage = usage;
  }
}

function formatIssue(issue: ConfigIssue): string {
  const shown = issue.value === undefined ? '(unset)' : JSON.stringify(issue.value);
  return `  ${issue.variable}=${shown}: ${issue.message}`;
}

/** A field that parses one variable's text; `form` says what is accepted, in error messages. */
function field<T>(form: string, parse: (raw: string) => T | undefined) {
  return z
    .string({
      error: (issue) =>
        issue.input === undefined ? `is required; expected ${form}` : `expected ${form}`,
    })
    .transform((raw, ctx): T => {
      const value = parse(raw.trim());
      if (value === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected ${form}` });
        return z.NEVER;
      }
      return value;
    });
}

function integerIn(raw: string, min: number, max: number): number | undefined {
  if (!/^-?\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
};
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Field helpers for config schemas. Each accepts text and says what form it wants. */
export const env = {
  string: () => field('a non-empty string', (raw) => (raw === '' ? undefined : raw)),
  port: () => field('a port number from 0 to 65535', (raw) => integerIn(raw, 0, 65535)),
  integer: (min: number, max: number) =>
    field(`an integer from ${min} to ${max}`, (raw) => integerIn(raw, min, max)),
  boolean: () =>
    field('true or false (also 1/0, yes/no, on/off)', (raw) => {
      const v = raw.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      return undefined;
    }),
  /** Milliseconds, from `250`, `250ms`, `5s`, `2m` or `1h`. */
  duration: () =>
    field('a duration such as 250ms, 5s, 2m (a bare number is milliseconds)', (raw) => {
      const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(raw);
      if (!m) return undefined;
      return Math.round(Number(m[1]) * (DURATION_UNITS_MS[m[2] ?? 'ms'] ?? 1));
    }),
  /** Bytes, from `65536`, `64KiB`, `1MiB`, `2GiB` (or decimal kB/MB/GB). */
  bytes: () =>
    field('a size such as 65536, 64KiB, 1MiB, 2GiB', (raw) => {
      const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?$/i.exec(raw);
      if (!m) return undefined;
      const unit = SIZE_UNITS[(m[2] ?? '').toLowerCase()];
      return unit === undefined ? undefined : Math.floor(Number(m[1]) * unit);
    }),
  url: (protocols: readonly string[]) =>
    field(`a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`, (raw) => {
      if (!URL.canParse(raw)) return undefined;
      return protocols.includes(new URL(raw).protocol) ? raw : undefined;
    }),
  /** Comma-separated NATS URLs, e.g. `nats://127.0.0.1:4222,nats://10.0.0.2:4222`. */
  natsServers: () =>
    field('nats://HOST:PORT, or several separated by commas', (raw) => {
      const urls = raw.split(',').map((s) => s.trim());
      const valid = urls.every(
        (u) => URL.canParse(u) && ['nats:', 'tls:', 'ws:', 'wss:'].includes(new URL(u).protocol),
      );
      return valid && urls.length > 0 ? urls : undefined;
    }),
  logLevel: () =>
    field(`one of ${LOG_LEVELS.join(', ')}`, (raw) =>
      (LOG_LEVELS as readonly string[]).includes(raw) ? (raw as LogLevel) : undefined,
    ),
  oneOf: <const T extends string>(values: readonly T[]) =>
    field(`one of ${values.join(', ')}`, (raw) =>
      (values as readonly string[]).includes(raw) ? (raw as T) : undefined,
    ),
};

/**
 * The variables every deployable reads (DESIGN.md, "Starting one part alone"). Spread into a
 * part's own schema: `z.object({ ...commonEnv(8081), STATIC_ROOT: ... })`.
 */
export function commonEnv(defaultPort: number) {
  return {
    HOST: env.string().default('0.0.0.0'),
    PORT: env.port().default(defaultPort),
    /** Unset: the part runs standalone, without NATS registration. */
    NATS_URL: env.natsServers().optional(),
    /** The NATS user of this part (infra/nats/nats.conf has one per service) and its password. */
    NATS_USER: env.string().optional(),
    NATS_PASSWORD: env.string().optional(),
    /** How others reach this instance; defaults to HOST, or 127.0.0.1 when HOST is a wildcard. */
    ADVERTISE_HOST: env.string().optional(),
    LOG_LEVEL: env.logLevel().default('info'),
    /** Set to `pretty` for human-readable logs (the supervisor pretty-prints on its own). */
    LOG_FORMAT: env.oneOf(['json', 'pretty']).default('json'),
    /** How long in-flight work may take to finish after SIGTERM. */
    SHUTDOWN_GRACE: env.duration().default(10_000),
    /** What may be buffered for NATS while disconnected before publishing fails fast. */
    NATS_MAX_PENDING: env.bytes().default(8 * 1024 * 1024),
    /** Set by `netlab up`: the supervisor's control socket and this instance's name. */
    NETLAB_CONTROL_SOCKET: env.string().optional(),
    NETLAB_INSTANCE: env.string().optional(),
  };
}

/** Deep-freezes plain objects and arrays, so config cannot be changed after start-up. */
function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Parses `source` with `schema` into a frozen object. Throws {@link ConfigError} listing every bad
 * variable at once.
 */
export function parseConfig<S extends z.ZodType<unknown, Record<string, unknown>>>(
  schema: S,
  source: ConfigSource,
  usage?: string,
): Readonly<z.output<S>> {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined && v !== '') cleaned[k] = v;
  const result = schema.safeParse(cleaned);
  if (result.success) return deepFreeze(result.data);
  const issues = result.error.issues.map((issue) => {
    const variable = String(issue.path[0] ?? '(config)');
    return { variable, value: cleaned[variable], message: issue.message };
  });
  throw new ConfigError(issues, usage);
}

/** Flags of a command line, each mapped onto the variable it sets. */
export interface ArgvSpec {
  /** Variable names filled by positional arguments, in order (`netlab-static 8000` → PORT). */
  readonly positionals?: readonly string[];
  readonly options?: Readonly<
    Record<string, { env: string; type: 'string' | 'boolean'; short?: string }>
  >;
  readonly usage: string;
}

/**
 * Maps argv onto variable names so that flags and env go through one schema; flags win over env.
 * Unknown flags and extra positionals are config errors that print the usage.
 */
export function argvToEnv(args: readonly string[], spec: ArgvSpec): Record<string, string> {
  const options = spec.options ?? {};
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(
        Object.entries(options).map(([name, o]) => [
          name,
          o.short === undefined ? { type: o.type } : { type: o.type, short: o.short },
        ]),
      ),
    });
  } catch (err) {
    throw new ConfigError(
      [{ variable: 'argv', value: args.join(' '), message: (err as Error).message }],
      spec.usage,
    );
  }
  const out: Record<string, string> = {};
  const positionals = spec.positionals ?? [];
  if (parsed.positionals.length > positionals.length) {
    throw new ConfigError(
      [
        {
          variable: 'argv',
          value: parsed.positionals.join(' '),
          message: `expected at most ${positionals.length} positional argument(s)`,
        },
      ],
      spec.usage,
    );
  }
  parsed.positionals.forEach((value, i) => {
    const name = positionals[i];
    if (name !== undefined) out[name] = value;
  });
  for (const [name, value] of Object.entries(parsed.values)) {
    const target = options[name];
    if (target !== undefined && value !== undefined) out[target.env] = String(value);
  }
  return out;
}

/** What {@link loadConfig} takes besides the schema and the environment. */
export interface LoadConfigOptions {
  /** A command line mapped onto variables through `spec`; flags win over the environment. */
  argv?: { args: readonly string[]; spec: ArgvSpec };
  usage?: string;
  exit?: (code: number) => never;
  write?: (text: string) => void;
}

/**
 * For main.ts: parse env (and argv), or print every problem (and the usage, when there is one)
 * and exit with 2.
 */
export function loadConfig<S extends z.ZodType<unknown, Record<string, unknown>>>(
  schema: S,
  source: ConfigSource,
  opts: LoadConfigOptions = {},
): Readonly<z.output<S>> {
  const usage = opts.usage ?? opts.argv?.spec.usage;
  try {
    const merged =
      opts.argv === undefined
        ? source
        : { ...source, ...argvToEnv(opts.argv.args, opts.argv.spec) };
    return parseConfig(schema, merged, usage);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const write = opts.write ?? ((text: string) => process.stderr.write(text));
    write(`${err.message}\n`);
    const shownUsage = err.usage ?? usage;
    if (shownUsage !== undefined) write(`\n${shownUsage}\n`);
    return (opts.exit ?? process.exit)(2);
  }
}
