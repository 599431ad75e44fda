import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { Kvm } from '@nats-io/kv';
import {
  advertisedHost,
  httpUrl,
  listen,
  loadConfig,
  runtimeConfig,
  startRuntime,
  subjects,
  type Logger,
  type NatsClient,
} from '@netlab/shared';
import { configSchema, type FetcherConfig } from './config';
import { createDownloadManager } from './download-manager';
import { createFetcherCore, FETCHER_VERSION } from './fetcher-core';
import { createFetcherApp } from './http-api';
import { addDownloadEndpoints, type DownloadEndpoints } from './nats-downloads';
import { addFetchEndpoint, type FetchEndpoint } from './nats-endpoint';
import {
  createDeferredSessionStore,
  createKvSessionStore,
  createMemorySessionStore,
  type SessionStore,
} from './session-store';

/** Opens (creating it the first time) the sessions bucket, retrying until JetStream answers. */
async function attachSessions(
  nats: NatsClient,
  config: FetcherConfig,
  attach: (store: SessionStore) => void,
  logger: Logger,
  stopped: () => boolean,
): Promise<void> {
  const kvm = new Kvm(nats.nc);
  for (let attempt = 0; !stopped(); attempt++) {
    try {
      const kv = await kvm
        .create(config.FETCH_SESSION_BUCKET, { ttl: config.FETCH_SESSION_TTL, history: 1 })
        // Another instance may have created it with other settings: use it as it is.
        .catch(() => kvm.open(config.FETCH_SESSION_BUCKET));
      attach(createKvSessionStore(kv, { maxBytes: config.FETCH_SESSION_MAX_BYTES }));
      logger.info({ bucket: config.FETCH_SESSION_BUCKET }, 'sessions are kept in NATS KV');
      return;
    } catch (err) {
      logger.warn(
        { err, bucket: config.FETCH_SESSION_BUCKET },
        'sessions bucket unavailable; retrying',
      );
      await sleep(Math.min(30_000, 1000 * 2 ** attempt));
    }
  }
}

/**
 * Turns off V8's allocation-site pretenuring unless the command line sets it either way
 * (`node --allocation-site-pretenuring dist/main.js` keeps V8's default, for comparison).
 * V8 decides for good to allocate a site's objects in the old generation when one scavenge finds
 * nearly all of them alive, which is what it finds when a burst of fetches is in flight: from then
 * on every envelope, header list and reply of a fetch is born old, and dies in full GCs behind
 * write barriers. Off, a fetch spends ~11% less CPU under the benchmark's load (DECISIONS.md #67).
 * V8 reads the flag at each GC, so setting it here, before any fetch, is as good as on the
 * command line, where NODE_OPTIONS may not carry it.
 */
function keepFetchesYoung(): void {
  if (process.execArgv.some((a) => /^--(no-)?allocation[-_]site[-_]pretenuring$/.test(a))) return;
  setFlagsFromString('--no-allocation-site-pretenuring');
}

async function main(): Promise<void> {
  keepFetchesYoung();
  const config = loadConfig(configSchema, process.env);
  const runtime = await startRuntime({
    service: 'fetcher',
    version: FETCHER_VERSION,
    config: runtimeConfig(config),
  });
  const { logger, lifecycle } = runtime;

  const deferred = createDeferredSessionStore();
  const sessions =
    config.NATS_URL === undefined
      ? createMemorySessionStore({ maxBytes: config.FETCH_SESSION_MAX_BYTES })
      : deferred;
  let nats: NatsClient | undefined;
  let downloadsActive = (): number => 0;
  let downloadEndpoints: DownloadEndpoints | undefined;
  const core = createFetcherCore({
    config,
    logger,
    sessions,
    registry: runtime.health.registry,
    downloadsActive: () => downloadsActive(),
  });
  const downloads = createDownloadManager({
    engine: core.engine,
    dir: config.FETCH_DOWNLOADS_DIR,
    maxActive: config.FETCH_MAX_DOWNLOADS,
    maxRecords: config.FETCH_DOWNLOAD_HISTORY,
    progressIntervalMs: config.FETCH_PROGRESS_INTERVAL,
    logger,
    publish: (event) =>
      nats?.publishJson(subjects.event('fetcher', 'download'), {
        instance: runtime.instance,
        ...event,
      }),
    onRecord: (id, present) => {
      if (present) downloadEndpoints?.track(id);
      else downloadEndpoints?.forget(id);
    },
  });
  downloadsActive = () => downloads.active();

  const http = createFetcherApp({
    engine: core.engine,
    downloads,
    sessions,
    health: runtime.health,
    logger,
    lifecycle,
    maxRequestBytes: config.FETCH_MAX_REQUEST_BYTES,
    fastPath: config.FETCH_FAST_PATH,
  });
  const { port } = await listen(http.server, config.PORT, config.HOST);
  logger.info(
    { port, allow: core.policy.entries.map((e) => e.text), filesDir: config.FETCH_FILES_DIR },
    'fetcher listening',
  );

  // Shutdown order: stop taking HTTP work and finish it, then NATS fetches, then downloads, then
  // the connection pools; joinNats's hook (registered last) drains NATS after all of them.
  let endpoint: FetchEndpoint | undefined;
  let stopped = false;
  lifecycle.onShutdown('http', () => http.close(config.SHUTDOWN_GRACE));
  lifecycle.onShutdown('nats-fetches', () => {
    stopped = true;
    downloadEndpoints?.drain();
    return endpoint?.drain();
  });
  lifecycle.onShutdown('downloads', () => downloads.close());
  lifecycle.onShutdown('engine', () => core.close());

  const joined = await runtime.joinNats({
    http: httpUrl(advertisedHost(config.HOST, config.ADVERTISE_HOST), port),
  });
  if (joined !== undefined) {
    nats = joined.nats;
    endpoint = addFetchEndpoint({
      service: joined.service,
      nc: joined.nats.nc,
      engine: core.engine,
      logger,
      maxBodyBytes: config.FETCH_NATS_MAX_BODY,
    });
    downloadEndpoints = addDownloadEndpoints({
      service: joined.service,
      nc: joined.nats.nc,
      downloads,
      logger,
    });
    await attachSessions(
      joined.nats,
      config,
      (store) => deferred.attach(store),
      logger,
      () => stopped,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fetcher failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
