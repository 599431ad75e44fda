import type { PartInput } from './manifest';

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
 * Empty until the first service exists: `netlab up` then runs nats-server alone.
 */
export const labParts: readonly PartInput[] = [];
