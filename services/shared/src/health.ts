import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { netlabError, sendProblem } from './errors';

/** A readiness check: resolves true when the dependency it guards is usable. */
export type ReadinessCheck = () => boolean | Promise<boolean>;

export interface ReadinessReport {
  status: 'ready' | 'not ready' | 'draining';
  checks: Record<string, 'ok' | 'failing'>;
}

/**
 * Liveness, readiness and metrics for one process. `/healthz` answers 200 while the event loop
 * runs; `/readyz` answers 200 when every check passes and 503 once draining has begun (so load
 * balancers stop sending work before the listener closes); `/metrics` is Prometheus text.
 */
export interface Health {
  readonly registry: Registry;
  addReadinessCheck(name: string, check: ReadinessCheck): void;
  setDraining(): void;
  isDraining(): boolean;
  readiness(): Promise<ReadinessReport>;
  /**
   * Serves the three paths; returns false for any other, for the caller to handle. `path` names
   * the health path when the caller mounts them elsewhere (the gateway and static use `/-/`).
   */
  handle(req: IncomingMessage, res: ServerResponse, path?: string): boolean;
}

export interface HealthOptions {
  service: string;
  instance: string;
  /** Process metrics (CPU, memory, event-loop lag, GC); on by default. */
  defaultMetrics?: boolean;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

export function createHealth(opts: HealthOptions): Health {
  const registry = new Registry();
  registry.setDefaultLabels({ service: opts.service, instance: opts.instance });
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const checks = new Map<string, ReadinessCheck>();
  let draining = false;

  const readiness = async (): Promise<ReadinessReport> => {
    const results: Record<string, 'ok' | 'failing'> = {};
    await Promise.all(
      [...checks].map(async ([name, check]) => {
        const ok = await Promise.resolve()
          .then(check)
          .catch(() => false);
        results[name] = ok ? 'ok' : 'failing';
      }),
    );
    if (draining) return { status: 'draining', checks: results };
    const ready = Object.values(results).every((r) => r === 'ok');
    return { status: ready ? 'ready' : 'not ready', checks: results };
  };

  return {
    registry,
    addReadinessCheck: (name, check) => void checks.set(name, check),
    setDraining: () => void (draining = true),
    isDraining: () => draining,
    readiness,
    handle(req, res, mountedPath) {
      const path = mountedPath ?? (req.url ?? '/').split('?', 1)[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      switch (path) {
        case '/healthz':
          sendJson(res, 200, { status: 'ok' });
          return true;
        case '/readyz':
          void readiness().then((report) =>
            sendJson(res, report.status === 'ready' ? 200 : 503, report),
          );
          return true;
        case '/metrics':
          void registry.metrics().then((text) => {
            res.writeHead(200, { 'content-type': registry.contentType });
            res.end(text);
          });
          return true;
        default:
          return false;
      }
    },
  };
}

/** A server with nothing but the health paths, for parts that do not speak HTTP (tcp-echo). */
export function createHealthServer(health: Health): Server {
  return createServer((req, res) => {
    if (!health.handle(req, res)) {
      sendProblem(res, netlabError('NOT_FOUND', 'Only /healthz, /readyz and /metrics are here.'));
    }
  });
}
