import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { Logger } from '@netlab/shared';
import { exemptFromIdleSweep } from './client-idle-sweep';
import { gatewayError } from './errors';
import { resolveRequest, type HttpProxyDeps } from './http-proxy';
import type { GatewayMetrics } from './metrics';
import { writeRawProblem } from './problem';
import { addForwardingHeaders, isHopByHop } from './request-headers';
import { upstreamPath } from './routes';
import type { UpstreamRegistry } from './upstream-registry';

/**
 * WebSocket (and any other `Upgrade`) pass-through: the request goes to an instance with its
 * `Upgrade` and `Connection: upgrade`; on `101` the two sockets are spliced, anything else is
 * relayed as a plain response and the connection closed, so a refused upgrade never leaves a raw
 * tunnel behind that later requests could ride past the gateway's checks.
 */
export interface UpgradeProxy {
  /** The `upgrade` listener. */
  readonly handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Tunnels currently open. */
  open(): number;
  /** Cuts every tunnel (the end of a graceful shutdown). */
  destroyAll(): void;
}

export function createUpgradeProxy(
  deps: Pick<HttpProxyDeps, 'settings' | 'routes' | 'trust'> & {
    upstreams: UpstreamRegistry;
    metrics: GatewayMetrics;
    logger: Logger;
  },
): UpgradeProxy {
  const log = deps.logger.child({ component: 'upgrade' });
  const tunnels = new Set<Duplex>();

  const handleUpgrade = (req: IncomingMessage, client: Duplex, head: Buffer): void => {
    const socket = client as Socket;
    socket.on('error', () => socket.destroy());
    const resolution = resolveRequest(req, deps, true, Date.now());
    if (!resolution.ok) {
      if (resolution.admin !== undefined) {
        writeRawProblem(socket, gatewayError('GATEWAY_BAD_REQUEST', 'No upgrades on /-/.'), {});
        return;
      }
      deps.metrics.rejected(resolution.reason);
      writeRawProblem(socket, resolution.error, resolution.ctx);
      return;
    }
    const r = resolution.value;
    const ctx = { requestId: r.facts.requestId, route: r.route.name, upstream: r.route.service };
    const inst = deps.upstreams.pick(r.route.service);
    if (inst === undefined) {
      deps.metrics.rejected('no_upstream');
      writeRawProblem(
        socket,
        gatewayError('GATEWAY_NO_UPSTREAM', `No healthy instance of ${r.route.service}.`),
        { ...ctx, retryAfter: 1 },
      );
      return;
    }
    addForwardingHeaders(r.facts, req, r.peer, r.trusted, r.host);
    const headers = r.facts.headers;
    headers.push('connection', 'upgrade', 'upgrade', r.facts.upgrade ?? 'websocket');
    const url = new URL(inst.http!);
    inst.outstanding++;
    let phase: 'waiting' | 'response' | 'tunnel' = 'waiting';
    const settle = (next: 'response' | 'tunnel'): void => {
      if (phase === 'waiting') inst.outstanding--;
      phase = next;
    };
    const upstreamReq = httpRequest({
      host: url.hostname,
      port: url.port,
      method: req.method,
      path: upstreamPath(r.route, r.path) + r.query,
      headers,
      agent: false,
      timeout: r.route.headersTimeoutMs,
    });
    // An upgrade request has no body; `head` (if any) belongs to the tunnel.
    upstreamReq.end();
    socket.once('close', () => {
      if (phase !== 'tunnel') upstreamReq.destroy();
    });

    upstreamReq.on('timeout', () => {
      upstreamReq.destroy(
        Object.assign(new Error('no answer to the upgrade in time'), { code: 'UPGRADE_TIMEOUT' }),
      );
    });
    upstreamReq.on('error', (err: Error & { code?: string }) => {
      if (phase !== 'waiting') {
        socket.destroy();
        return;
      }
      settle('response');
      const timeout = err.code === 'UPGRADE_TIMEOUT';
      if (!timeout)
        deps.upstreams.reportFailure(inst, err.code === 'ECONNREFUSED' ? 'connect' : 'reset');
      writeRawProblem(
        socket,
        gatewayError(
          timeout ? 'GATEWAY_UPSTREAM_TIMEOUT' : 'GATEWAY_UPSTREAM_UNREACHABLE',
          `${inst.service} (${inst.name}) failed the upgrade: ${err.message}`,
        ),
        ctx,
      );
    });

    upstreamReq.on('response', (res) => {
      // Not switching protocols: relay the answer as is, then close.
      settle('response');
      const lines = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}`];
      const raw = res.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        if (!isHopByHop(raw[i]!.toLowerCase())) lines.push(`${raw[i]}: ${raw[i + 1]}`);
      }
      // Without a Content-Length the body now ends with the connection (RFC 9112 §6.3).
      lines.push('connection: close');
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      res.pipe(socket);
    });

    upstreamReq.on('upgrade', (res, upstream, upstreamHead) => {
      settle('tunnel');
      if (socket.destroyed) {
        upstream.destroy();
        return;
      }
      upstream.setTimeout(0);
      const lines = [`HTTP/1.1 101 ${res.statusMessage ?? 'Switching Protocols'}`];
      const raw = res.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
      lines.push(`x-request-id: ${r.facts.requestId}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (upstreamHead.length > 0) socket.write(upstreamHead);
      if (head.length > 0) upstream.write(head);
      exemptFromIdleSweep(socket);
      socket.setNoDelay(true);
      upstream.setNoDelay(true);
      tunnels.add(socket);
      deps.metrics.websockets.inc();
      const close = (): void => {
        if (!tunnels.delete(socket)) return;
        deps.metrics.websockets.dec();
        upstream.destroy();
        socket.destroy();
      };
      upstream.on('error', close);
      upstream.on('close', close);
      socket.on('close', close);
      upstream.pipe(socket);
      socket.pipe(upstream);
      log.debug(
        { reqId: r.facts.requestId, upstream: inst.name, path: r.path },
        'upgrade tunnel open',
      );
    });
  };

  return {
    handleUpgrade,
    open: () => tunnels.size,
    destroyAll() {
      for (const s of tunnels) s.destroy();
    },
  };
}
