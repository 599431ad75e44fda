import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHealth, closeHttpServer, type Logger, type NatsClient } from '@netlab/shared';
import { listen, silentLogger } from '@netlab/shared/testing';
import type { DynamicApp } from '../src/app';
import type { FieldError } from '../src/errors';
import {
  toDynamicConfig,
  configSchema,
  type DatabaseTarget,
  type DynamicConfig,
} from '../src/config';
import type { Database } from '../src/database';
import { createDynamicService } from '../src/dynamic-service';
import type { QuoteHub } from '../src/quote-hub';
import type { QuoteRefresher } from '../src/quote-refresher';
import type { StockRepository } from '../src/stock-repository';

/**
 * Test harness: the whole app, in-process, on a real socket (port 0) over a real database (a
 * temporary SQLite file unless a target is given).
 */
export const PACKAGE_DIR = resolve(__dirname, '..');
export const DB_DIR = resolve(PACKAGE_DIR, '../../infra/db');

export interface TestApp {
  readonly base: string;
  readonly port: number;
  readonly config: DynamicConfig;
  readonly database: Database;
  readonly repo: StockRepository;
  readonly hub: QuoteHub;
  readonly refresher: QuoteRefresher;
  readonly app: DynamicApp;
  readonly instance: string;
  readonly metrics: () => Promise<string>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Variables as main.ts reads them (DATABASE_URL, PAGE_SIZE_MAX, …). */
  env?: Record<string, string>;
  /** Waits for the schema unless false (tests of a database that is down). */
  waitReady?: boolean;
  nats?: NatsClient;
  instance?: string;
  logger?: Logger;
}

let counter = 0;

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const dir = await mkdtemp(join(tmpdir(), 'netlab-dynamic-'));
  const env = configSchema.parse({
    DATABASE_URL: `sqlite:${join(dir, 'stock.db')}`,
    DB_RETRY_INTERVAL: '200ms',
    ...opts.env,
  });
  const config = toDynamicConfig(env, DB_DIR);
  const logger = opts.logger ?? silentLogger();
  counter += 1;
  const instance = opts.instance ?? `dynamic-test-${process.pid}-${counter}`;
  const health = createHealth({ service: 'dynamic', instance, defaultMetrics: false });
  const { database, repo, hub, refresher, app } = createDynamicService({
    config,
    logger,
    health,
    version: '0.0.0-test',
    instance,
    packageDir: PACKAGE_DIR,
  });
  let natsSub: { close(): void } | undefined;
  if (opts.nats !== undefined) {
    refresher.setNats(opts.nats);
    natsSub = hub.attachNats(opts.nats);
  }
  const { port } = await listen(app.server, 0, '127.0.0.1');
  if (opts.waitReady !== false) await database.whenReady();
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    config,
    database,
    repo,
    hub,
    refresher,
    app,
    instance,
    metrics: () => health.registry.metrics(),
    async close() {
      natsSub?.close();
      hub.close();
      await closeHttpServer(app.server, 1000);
      await database.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function sqliteTarget(path: string): DatabaseTarget {
  return { kind: 'sqlite', path };
}

/** A problem response as tests read it. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  retryable: boolean;
  errors?: FieldError[];
}

/** JSON request helper: fetch with a JSON body and the parsed response. */
export async function call<T = ProblemBody>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: T; text: string }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json: json as T, text };
}
