import type { PartInput } from './manifest';

/**
 * A young generation of at most 2 × 8 MiB for the Node parts under load: left alone, V8 grows it
 * to 128 MiB, and then runs a full GC every few hundred ms (gateway README, "The tail"); the
 * fetcher keeps 100 MiB less with it. V8 reads it only at start-up, hence NODE_OPTIONS.
 */
const CAPPED_YOUNG_GENERATION = { NODE_OPTIONS: '--max-semi-space-size=8' };

/**
 * The parts `netlab up` runs, in start order (stopped in reverse), validated by `parseManifest`.
 * A service joins the lab by adding one entry here once it has a `dist/main.js`, e.g.
 *
 * ```ts
 * { name: 'static', workspace: 'services/static', port: 8081 },
 * { name: 'dynamic', workspace: 'services/dynamic', port: 8082,
 *   env: { DATABASE_URL: 'sqlite:${NETLAB_DIR}/stock.db' } },
 * { name: 'tcp-echo', workspace: 'services/tcp-echo', port: 7001, scheme: 'tcp',
 *   healthPortEnv: 'HEALTH_PORT', healthPort: 8084 },
 * { name: 'gateway', workspace: 'gateway', port: 8080 },   // last: it discovers the others
 * ```
 *
 * The static server keeps its health paths under `/-/` so that no file can shadow them.
 */
export const labParts: readonly PartInput[] = [
  {
    name: 'static',
    workspace: 'services/static',
    port: 8081,
    readinessPath: '/-/readyz',
    env: { STATIC_ROOT: '${REPO_ROOT}/services/static/site' },
  },
  {
    name: 'dynamic',
    workspace: 'services/dynamic',
    port: 8082,
    // The quotes refresh fetches the service's own simulated exchange feed through the fetcher.
    env: {
      DATABASE_URL: 'sqlite:${NETLAB_DIR}/stock.db',
      QUOTES_URL: 'http://127.0.0.1:8082/api/quotes/feed',
    },
  },
  {
    name: 'tcp-echo',
    workspace: 'services/tcp-echo',
    port: 7001,
    scheme: 'tcp',
    healthPortEnv: 'HEALTH_PORT',
    healthPort: 8084,
  },
  {
    name: 'fetcher',
    workspace: 'services/fetcher',
    port: 8083,
    // Private destinations are denied; the lab's own static and dynamic services are allowed.
    env: {
      FETCH_ALLOW: '127.0.0.1:8080-8082',
      FETCH_DOWNLOADS_DIR: '${NETLAB_DIR}/downloads',
      ...CAPPED_YOUNG_GENERATION,
    },
  },
  // Last: it discovers the others over NATS. Its own endpoints live only under /-/.
  {
    name: 'gateway',
    workspace: 'gateway',
    port: 8080,
    readinessPath: '/-/readyz',
    env: { ...CAPPED_YOUNG_GENERATION },
  },
];
