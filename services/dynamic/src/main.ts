import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  advertisedHost,
  closeHttpServer,
  httpUrl,
  listen,
  loadConfig,
  runtimeConfig,
  startRuntime,
} from '@netlab/shared';
import { configSchema, toDynamicConfig } from './config';
import { createDynamicService } from './dynamic-service';

async function main(): Promise<void> {
  const env = loadConfig(configSchema, process.env);
  const packageDir = resolve(__dirname, '..');
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  const config = toDynamicConfig(env, resolve(packageDir, '../../infra/db'));
  const runtime = await startRuntime({ service: 'dynamic', version, config: runtimeConfig(env) });
  const { logger, health, lifecycle } = runtime;

  const { database, hub, refresher, app } = createDynamicService({
    config,
    logger,
    health,
    version,
    instance: runtime.instance,
    packageDir,
    beginWork: () => lifecycle.beginWork(),
  });
  const { server } = app;

  const address = await listen(server, env.PORT, env.HOST);
  const url = httpUrl(advertisedHost(env.HOST, env.ADVERTISE_HOST), address.port);
  logger.info(
    {
      url,
      database: config.database.kind === 'sqlite' ? config.database.path : config.database.display,
    },
    'dynamic listening',
  );
  lifecycle.onShutdown('http', async () => {
    // Streams never finish on their own: end them as the listener stops accepting.
    const closing = closeHttpServer(server, Math.floor(env.SHUTDOWN_GRACE * 0.8));
    hub.close();
    const inTime = await closing;
    await database.close();
    if (!inTime) throw new Error('requests were still running when the grace period ended');
  });

  // `database` tells the gateway's dashboard which engine this instance reads (never the URL:
  // it may carry a password).
  const joined = await runtime.joinNats({ http: url, database: config.database.kind });
  if (joined !== undefined) {
    refresher.setNats(joined.nats);
    hub.attachNats(joined.nats);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`dynamic failed to start: ${String(err)}\n`);
  process.exit(1);
});
