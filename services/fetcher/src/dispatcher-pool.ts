import { createHash } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { Agent, Pool, ProxyAgent, type Dispatcher } from 'undici';
import type { AddressPolicy } from './address-policy';
import type { Resolve } from './dns-resolver';
import { createGuardedConnector, type GuardedConnectorOptions } from './guarded-connector';

/**
 * Keep-alive connection pools (undici), one Agent per distinct connection setting: the default
 * one for plain fetches, and a bounded LRU of others for fetches with their own TLS settings,
 * proxy or connect timeout. Every connection of every one of them goes through the guarded
 * connector, the proxy's included.
 */

export interface DispatcherKey {
  verify: boolean;
  ca: string | undefined;
  proxy: URL | undefined;
  connectTimeoutMs: number;
}

export interface DispatcherPoolOptions {
  policy: AddressPolicy;
  resolve: Resolve;
  defaultConnectTimeoutMs: number;
  /** FETCH_HAPPY_EYEBALLS_DELAY: see GuardedConnectorOptions.attemptDelayMs. */
  attemptDelayMs: number;
  /** Connections per origin (FETCH_POOL_CONNECTIONS). */
  connections: number;
  /** Idle keep-alive connections close after this (FETCH_KEEPALIVE_TIMEOUT). */
  keepAliveTimeoutMs: number;
  /** Non-default agents kept (FETCH_MAX_AGENTS); the least recently used is closed. */
  maxAgents: number;
  onDenied?: GuardedConnectorOptions['onDenied'];
  beforeDial?: GuardedConnectorOptions['beforeDial'];
}

export interface DispatcherPool {
  get(key: DispatcherKey): Dispatcher;
  size(): number;
  close(): Promise<void>;
}

export function createDispatcherPool(opts: DispatcherPoolOptions): DispatcherPool {
  const tlsOf = (key: DispatcherKey) => ({
    rejectUnauthorized: key.verify,
    // Extra CAs are added to the system's, not instead of them.
    ...(key.ca === undefined ? {} : { ca: [...rootCertificates, key.ca] }),
  });
  const connector = (key: DispatcherKey) =>
    createGuardedConnector({
      policy: opts.policy,
      resolve: opts.resolve,
      tls: tlsOf(key),
      connectTimeoutMs: key.connectTimeoutMs,
      attemptDelayMs: opts.attemptDelayMs,
      ...(opts.onDenied === undefined ? {} : { onDenied: opts.onDenied }),
      ...(opts.beforeDial === undefined ? {} : { beforeDial: opts.beforeDial }),
    });
  const common = {
    connections: opts.connections,
    keepAliveTimeout: opts.keepAliveTimeoutMs,
    keepAliveMaxTimeout: Math.max(opts.keepAliveTimeoutMs, 1000),
    pipelining: 1,
  };

  const build = (key: DispatcherKey): Dispatcher => {
    if (key.proxy === undefined) return new Agent({ ...common, connect: connector(key) });
    const proxyOrigin = key.proxy.origin;
    const guarded = connector(key);
    // Both the CONNECT tunnel client and the plain-HTTP forwarding client dial the proxy: guard
    // them. Pools for tunnelled origins keep undici's own tunnel connector.
    const proxyPool = (origin: string | URL, o: Pool.Options) =>
      new Pool(origin, { ...o, connect: guarded });
    return new ProxyAgent({
      ...common,
      uri: key.proxy.href,
      requestTls: tlsOf(key),
      proxyTls: tlsOf(key),
      connectTimeout: key.connectTimeoutMs,
      clientFactory: proxyPool,
      factory: (origin: string | URL, o: Pool.Options) =>
        new URL(String(origin)).origin === proxyOrigin ? proxyPool(origin, o) : new Pool(origin, o),
    });
  };

  const defaultKey: DispatcherKey = {
    verify: true,
    ca: undefined,
    proxy: undefined,
    connectTimeoutMs: opts.defaultConnectTimeoutMs,
  };
  const defaultAgent = build(defaultKey);
  const others = new Map<string, Dispatcher>();

  const isDefault = (key: DispatcherKey) =>
    key.verify &&
    key.ca === undefined &&
    key.proxy === undefined &&
    key.connectTimeoutMs === opts.defaultConnectTimeoutMs;

  return {
    get(key) {
      if (isDefault(key)) return defaultAgent;
      const id = JSON.stringify([
        key.verify,
        key.ca === undefined ? '' : createHash('sha256').update(key.ca).digest('hex'),
        key.proxy?.href ?? '',
        key.connectTimeoutMs,
      ]);
      let d = others.get(id);
      if (d !== undefined) {
        // Map order is insertion order: re-insert to mark as recently used.
        others.delete(id);
        others.set(id, d);
        return d;
      }
      d = build(key);
      others.set(id, d);
      if (others.size > opts.maxAgents) {
        const [oldestId, oldest] = others.entries().next().value as [string, Dispatcher];
        others.delete(oldestId);
        // close() lets in-flight requests finish first.
        void oldest.close().catch(() => undefined);
      }
      return d;
    },
    size: () => 1 + others.size,
    async close() {
      await Promise.allSettled([
        defaultAgent.close(),
        ...[...others.values()].map((d) => d.close()),
      ]);
      others.clear();
    },
  };
}
