import type { IncomingMessage, ServerResponse } from 'node:http';
import { netlabError, sendProblem, type Health } from '@netlab/shared';
import { gatewayError } from './errors';
import type { RouteStore } from './http-proxy';
import type { UpstreamRegistry } from './upstream-registry';
import type { Dashboard } from './dashboard/dashboard';

/**
 * The gateway's own endpoints, under the reserved prefix `/-/` (never routed upstream):
 * `/-/healthz`, `/-/readyz`, `/-/metrics` (the shared health module), `/-/routes` (the live table
 * and where it came from), `/-/upstreams` (every instance with its health) and the lab dashboard
 * under `/-/dashboard`.
 */
export interface AdminDeps {
  health: Health;
  routes: RouteStore;
  upstreams: UpstreamRegistry;
  dashboard?: Pick<Dashboard, 'handle'>;
}

function sendJson(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value, null, 2);
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

export function routesReport(routes: RouteStore): unknown {
  const router = routes.current;
  return {
    source: router.source,
    routes: router.routes.map((r) => ({
      ...r.spec,
      headersTimeoutMs: r.headersTimeoutMs,
      bodyTimeoutMs: r.bodyTimeoutMs,
      retries: r.retries,
      bodyLimit: r.bodyLimit,
    })),
  };
}

export function upstreamsReport(upstreams: UpstreamRegistry): unknown {
  const services: Record<string, unknown[]> = {};
  for (const inst of upstreams.list()) {
    (services[inst.service] ??= []).push({
      name: inst.name,
      id: inst.id,
      version: inst.version,
      http: inst.http,
      tcp: inst.tcp === undefined ? undefined : `${inst.tcp.host}:${inst.tcp.port}`,
      state: inst.state,
      sources: [...inst.sources],
      outstanding: inst.outstanding,
      requests: inst.requests,
      consecutiveFailures: inst.failures,
      healthPath: inst.healthPath,
      lastProbe: inst.lastProbe,
      addedAt: new Date(inst.addedAt).toISOString(),
    });
  }
  return { services };
}

export function createAdmin(deps: AdminDeps) {
  return (req: IncomingMessage, res: ServerResponse, path: string): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendProblem(res, gatewayError('GATEWAY_METHOD_NOT_ALLOWED', `${path} answers GET only.`));
      return;
    }
    if (
      deps.dashboard !== undefined &&
      (path === '/-/dashboard' || path.startsWith('/-/dashboard/'))
    ) {
      deps.dashboard.handle(req, res, path);
      return;
    }
    switch (path) {
      case '/-/healthz':
      case '/-/readyz':
      case '/-/metrics':
        if (!deps.health.handle(req, res, path.slice(2))) {
          sendProblem(res, netlabError('NOT_FOUND', path));
        }
        return;
      case '/-/routes':
        sendJson(res, routesReport(deps.routes));
        return;
      case '/-/upstreams':
        sendJson(res, upstreamsReport(deps.upstreams));
        return;
      default:
        sendProblem(
          res,
          netlabError(
            'NOT_FOUND',
            `No admin endpoint ${path}; there are /-/healthz, /-/readyz, /-/metrics, /-/routes, /-/upstreams, /-/dashboard.`,
          ),
        );
    }
  };
}
