import type { Health, Logger } from '@netlab/shared';
import { createApp, type AppDeps, type DynamicApp } from './app';
import type { DynamicConfig } from './config';
import { createDatabase, type Database } from './database';
import { createQuoteHub, type QuoteHub } from './quote-hub';
import { createQuoteRefresher, type QuoteRefresher } from './quote-refresher';
import { createStockRepository, type StockRepository } from './stock-repository';

export interface DynamicServiceDeps {
  config: DynamicConfig;
  logger: Logger;
  health: Health;
  version: string;
  instance: string;
  packageDir: string;
  beginWork?: AppDeps['beginWork'];
}

/** Everything the dynamic service is made of, wired together; nothing listens yet. */
export interface DynamicService {
  readonly database: Database;
  readonly repo: StockRepository;
  readonly hub: QuoteHub;
  readonly refresher: QuoteRefresher;
  readonly app: DynamicApp;
}

/** The service's object graph, shared by main.ts and the tests' harness so they cannot drift. */
export function createDynamicService(deps: DynamicServiceDeps): DynamicService {
  const { config, logger, health } = deps;
  const database = createDatabase({ ...config, target: config.database, logger });
  health.addReadinessCheck('database', () => database.check());
  const repo = createStockRepository(database);
  const hub = createQuoteHub({
    instance: deps.instance,
    logger,
    registry: health.registry,
    maxClients: config.streamMaxClients,
    heartbeatMs: config.streamHeartbeatMs,
    maxBufferedBytes: config.streamMaxBufferedBytes,
    wsMaxPayloadBytes: config.wsMaxPayloadBytes,
  });
  const refresher = createQuoteRefresher({
    repo,
    hub,
    quotesUrl: config.quotesUrl,
    timeoutMs: config.quotesTimeoutMs,
    maxItems: config.quotesMaxItems,
    logger,
    registry: health.registry,
  });
  const app = createApp({ ...deps, repo, hub, refresher });
  return { database, repo, hub, refresher, app };
}
