import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Logger } from '@netlab/shared';
import type { GatewaySettings } from './config';
import type { GatewayMetrics } from './metrics';
import type { Instance, UpstreamRegistry } from './upstream-registry';

/**
 * The TCP listener: each connection goes to a healthy instance of TCP_SERVICE (tcp-echo, whose
 * NATS metadata `tcp` gives `host:port`), chosen like HTTP requests are. The client is paused
 * until the instance accepted, so a refused connection can be retried on another instance with
 * nothing lost. A half-close (FIN) is passed on in either direction and the other keeps flowing.
 */
export interface TcpProxy {
  readonly server: Server;
  open(): number;
  /** Stops accepting; open connections get `graceMs` to finish, then are cut. */
  close(graceMs: number): Promise<boolean>;
}

export interface TcpProxyDeps {
  settings: Pick<
    GatewaySettings,
    'tcpService' | 'tcpMaxConnections' | 'tcpConnectTimeoutMs' | 'tcpIdleTimeoutMs'
  >;
  upstreams: UpstreamRegistry;
  metrics: GatewayMetrics;
  logger: Logger;
}

const CONNECT_ATTEMPTS = 2;

export function createTcpProxy(deps: TcpProxyDeps): TcpProxy {
  const { settings, upstreams, metrics } = deps;
  const log = deps.logger.child({ component: 'tcp' });
  const open = new Set<Socket>();

  const relay = (client: Socket, inst: Instance, attempt: number): void => {
    const upstream = connect({ host: inst.tcp!.host, port: inst.tcp!.port, allowHalfOpen: true });
    inst.outstanding++;
    let state: 'connecting' | 'relaying' | 'done' = 'connecting';
    const release = (): void => {
      if (state === 'done') return;
      state = 'done';
      inst.outstanding--;
    };
    const timer = setTimeout(
      () => upstream.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })),
      settings.tcpConnectTimeoutMs,
    );
    const onClientGoneEarly = (): void => {
      upstream.destroy();
      release();
    };
    client.once('close', onClientGoneEarly);

    upstream.once('connect', () => {
      clearTimeout(timer);
      client.off('close', onClientGoneEarly);
      state = 'relaying';
      upstreams.reportSuccess(inst);
      metrics.tcpConnectionsTotal.inc({ result: 'relayed' });
      upstream.setNoDelay(true);
      client.setNoDelay(true);
      // Each socket closes once both its directions are done (allowHalfOpen), after its writes
      // are flushed. An abrupt close of either side (an error, the idle or the drain cut: a side
      // that closed before the data from it ended) cuts both: pipe() would leave the other open.
      let closes = 0;
      const onClose = (hadError: boolean): void => {
        if (hadError || !client.readableEnded || !upstream.readableEnded) {
          upstream.destroy();
          client.destroy();
        }
        if (++closes < 2) return;
        metrics.tcpBytes.inc({ direction: 'upstream' }, upstream.bytesWritten);
        metrics.tcpBytes.inc({ direction: 'downstream' }, client.bytesWritten);
        release();
      };
      upstream.on('close', onClose);
      client.on('close', onClose);
      // pipe() ends the destination when the source ends: that is the half-close.
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.on('error', (err: Error & { code?: string }) => {
      clearTimeout(timer);
      if (state !== 'connecting') {
        client.destroy();
        return;
      }
      client.off('close', onClientGoneEarly);
      release();
      if (client.destroyed) return;
      upstreams.reportFailure(inst, 'connect');
      const next =
        attempt < CONNECT_ATTEMPTS ? upstreams.pickTcp(settings.tcpService, inst) : undefined;
      log.warn(
        { upstream: inst.name, err: err.message, retryOn: next?.name },
        'TCP upstream connect failed',
      );
      if (next !== undefined) relay(client, next, attempt + 1);
      else {
        metrics.tcpConnectionsTotal.inc({ result: 'upstream_failed' });
        client.destroy();
      }
    });
  };

  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    if (open.size >= settings.tcpMaxConnections) {
      metrics.rejected('too_many_connections');
      metrics.tcpConnectionsTotal.inc({ result: 'limit' });
      client.destroy();
      return;
    }
    open.add(client);
    metrics.tcpConnections.inc();
    client.once('close', () => {
      open.delete(client);
      metrics.tcpConnections.dec();
    });
    client.on('error', () => client.destroy());
    if (settings.tcpIdleTimeoutMs > 0) {
      client.setTimeout(settings.tcpIdleTimeoutMs, () => client.destroy());
    }
    const inst = upstreams.pickTcp(settings.tcpService);
    if (inst === undefined) {
      metrics.tcpConnectionsTotal.inc({ result: 'no_upstream' });
      log.warn({ service: settings.tcpService }, 'no healthy TCP instance; closing the connection');
      client.destroy();
      return;
    }
    relay(client, inst, 1);
  });

  return {
    server,
    open: () => open.size,
    close(graceMs) {
      return new Promise((resolve) => {
        if (!server.listening) {
          resolve(true);
          return;
        }
        let inTime = true;
        const deadline = setTimeout(() => {
          inTime = false;
          for (const s of open) s.destroy();
        }, graceMs);
        server.close(() => {
          clearTimeout(deadline);
          resolve(inTime);
        });
      });
    },
  };
}
