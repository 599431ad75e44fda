import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { configSchema as dynamicSchema } from '../../../services/dynamic/src/config';
import { configSchema as fetcherSchema } from '../../../services/fetcher/src/config';
import { staticConfigSchema } from '../../../services/static/src/config';
import { configSchema as tcpEchoSchema } from '../../../services/tcp-echo/src/config';
import { configSchema as gatewaySchema } from '../../../gateway/src/config';

/** Reading docker-compose.yml as docker compose does: YAML merge keys, then `${VAR}` interpolation. */

export const repoRoot = resolve(__dirname, '..', '..', '..');
export const composeFile = join(repoRoot, 'docker-compose.yml');

/**
 * Every part's configuration schema, by workspace: the compose environment of a part must parse
 * with it, so a renamed or removed variable fails here.
 */
export const partSchemas: Readonly<Record<string, z.ZodType<unknown, Record<string, unknown>>>> = {
  'services/static': staticConfigSchema(repoRoot),
  'services/dynamic': dynamicSchema,
  'services/fetcher': fetcherSchema,
  'services/tcp-echo': tcpEchoSchema,
  gateway: gatewaySchema,
};

/** The variables a schema reads (the keys of its object, under any transform or refinement). */
export function schemaVariables(schema: z.ZodType<unknown, Record<string, unknown>>): string[] {
  let s: unknown = schema;
  for (let depth = 0; depth < 8; depth++) {
    if (s instanceof z.ZodObject) return Object.keys(s.shape);
    if (s instanceof z.ZodPipe) s = s.in;
    else break;
  }
  throw new Error('expected a z.object schema, possibly piped into a transform');
}

const VARIABLE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g;

/** The variables a text requires (`${VAR:?...}` and `${VAR}`) and those with a default. */
export function referencedVariables(text: string): {
  required: Set<string>;
  optional: Set<string>;
} {
  const required = new Set<string>();
  const optional = new Set<string>();
  for (const m of text.matchAll(VARIABLE)) {
    if (m[1] === undefined) continue;
    if (m[2]?.endsWith('-') === true) optional.add(m[1]);
    else required.add(m[1]);
  }
  return { required, optional };
}

/** Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR:?error}`, `$$` for `$`. */
export function interpolate(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(VARIABLE, (whole, name: string | undefined, op?: string, arg?: string) => {
    if (name === undefined) return '$';
    const value = env[name];
    const unset = value === undefined || (op?.startsWith(':') === true && value === '');
    if (op?.endsWith('-') === true) return unset ? (arg ?? '') : value;
    if (op?.endsWith('?') === true && unset) {
      throw new Error(`${whole}: required variable ${name} is unset`);
    }
    return value ?? '';
  });
}

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  expose?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; interval?: string; timeout?: string; retries?: number };
  profiles?: string[];
  restart?: string;
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  mem_limit?: string;
  init?: boolean;
  user?: string;
  tmpfs?: string[];
  volumes?: string[];
  logging?: { driver: string; options?: Record<string, string> };
  stop_grace_period?: string;
}

export interface ComposeModel {
  name: string;
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

export function composeText(): string {
  return readFileSync(composeFile, 'utf8');
}

/** The file as YAML, merge keys resolved, before interpolation. */
export function rawCompose(): unknown {
  return parse(composeText(), { merge: true });
}

/** Every string in a parsed document (compose interpolates values, never comments). */
export function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsOf);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(stringsOf);
  return [];
}

function interpolateValues(value: unknown, env: Readonly<Record<string, string>>): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolateValues(v, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolateValues(v, env)]),
    );
  }
  return value;
}

/** The model compose works on: merge keys resolved, variables interpolated from `env`. */
export function loadCompose(env: Readonly<Record<string, string>>): ComposeModel {
  return interpolateValues(rawCompose(), env) as ComposeModel;
}

/** The variables the file's values require, and those with a default. */
export function composeVariables(): { required: Set<string>; optional: Set<string> } {
  return referencedVariables(stringsOf(rawCompose()).join('\n'));
}

/** A value for every required variable, the way infra/docker/init-env.sh makes them. */
export function testEnv(): Record<string, string> {
  const { required } = composeVariables();
  return Object.fromEntries(
    [...required].map((v) => [v, `ptest${v.toLowerCase().replace(/_/g, '')}`]),
  );
}

/** `KEY: value` of a service's environment as strings, the way a container sees them. */
export function environmentOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]),
  );
}
