import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { commonEnv, env, runtimeConfig, type ArgvSpec } from '@netlab/shared';

export const DEFAULT_PORT = 8081;

export const usage = `usage: netlab-static [port] [--root DIR] [--host HOST] [--listing]

Serves the files under DIR (default: STATIC_ROOT, else the current directory) over HTTP,
like \`python3 -m http.server [port]\`.

  port                  port to listen on, 0-65535 (default: PORT, else ${DEFAULT_PORT}; 0: any free port)
  -d, --root DIR        directory to serve (also --directory)
  -b, --host HOST       address to bind (also --bind; default: HOST, else 0.0.0.0)
  --listing             list directories that have no index.html
  -h, --help            print this help

Health, readiness and metrics: /-/healthz, /-/readyz, /-/metrics.
Every other setting is an environment variable: see services/static/README.md.`;

/** Flags map onto the same variables as the environment; flags win (python's -d/-b too). */
export const argvSpec: ArgvSpec = {
  positionals: ['PORT'],
  options: {
    root: { env: 'STATIC_ROOT', type: 'string', short: 'd' },
    directory: { env: 'STATIC_ROOT', type: 'string' },
    host: { env: 'HOST', type: 'string', short: 'b' },
    bind: { env: 'HOST', type: 'string' },
    listing: { env: 'STATIC_LISTING', type: 'boolean' },
  },
  usage,
};

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/**
 * The schema of every variable the static server reads. `cwd` is the default root, as for
 * `python3 -m http.server`; main.ts passes `process.cwd()`.
 */
export function staticConfigSchema(cwd: string) {
  return z
    .object({
      ...commonEnv(DEFAULT_PORT),
      STATIC_ROOT: env
        .string()
        .transform((raw) => resolve(cwd, raw))
        .refine(isDirectory, { message: 'no such directory (set by --root or STATIC_ROOT)' })
        .default(resolve(cwd)),
      STATIC_INDEX: env
        .string()
        .refine((name) => !name.includes('/') && !name.startsWith('.'), {
          message: 'expected a file name without "/" that does not start with "."',
        })
        .default('index.html'),
      STATIC_LISTING: env.boolean().default(false),
      STATIC_LISTING_MAX_ENTRIES: env.integer(1, 1_000_000).default(10_000),
      STATIC_DOTFILES: env.boolean().default(false),
      STATIC_CACHE_CONTROL: env.string().default('public, max-age=0'),
      STATIC_PRECOMPRESSED: env.boolean().default(true),
      STATIC_MAX_RANGES: env.integer(1, 1000).default(16),
      STATIC_CACHE_MAX_BYTES: env.bytes().default(64 * 1024 * 1024),
      STATIC_CACHE_MAX_FILE_BYTES: env.bytes().default(256 * 1024),
      STATIC_CACHE_REVALIDATE: env.duration().default(1000),
      STATIC_CHUNK_BYTES: env
        .bytes()
        .refine((n) => n >= 4096 && n <= 16 * 1024 * 1024, {
          message: 'expected a size from 4KiB to 16MiB',
        })
        .default(256 * 1024),
      STATIC_SEND_TIMEOUT: env.duration().default(60_000),
      STATIC_ACCESS_LOG: env.boolean().default(true),
    })
    .transform((e) => ({
      runtime: runtimeConfig(e),
      server: {
        root: e.STATIC_ROOT,
        index: e.STATIC_INDEX,
        listing: e.STATIC_LISTING,
        listingMaxEntries: e.STATIC_LISTING_MAX_ENTRIES,
        dotfiles: e.STATIC_DOTFILES,
        cacheControl: e.STATIC_CACHE_CONTROL === 'off' ? undefined : e.STATIC_CACHE_CONTROL,
        precompressed: e.STATIC_PRECOMPRESSED,
        maxRanges: e.STATIC_MAX_RANGES,
        cacheMaxBytes: e.STATIC_CACHE_MAX_BYTES,
        cacheMaxFileBytes: e.STATIC_CACHE_MAX_FILE_BYTES,
        cacheRevalidateMs: e.STATIC_CACHE_REVALIDATE,
        chunkBytes: e.STATIC_CHUNK_BYTES,
        sendTimeoutMs: e.STATIC_SEND_TIMEOUT,
        accessLog: e.STATIC_ACCESS_LOG,
      },
    }));
}

export type StaticConfig = z.output<ReturnType<typeof staticConfigSchema>>;
export type StaticServerOptions = StaticConfig['server'];
