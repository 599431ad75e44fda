#!/usr/bin/env node
import {
  advertisedHost,
  closeHttpServer,
  httpUrl,
  listen,
  loadConfig,
  packageVersion,
  startRuntime,
} from '@netlab/shared';
import { argvSpec, staticConfigSchema, usage } from './config';
import { ADMIN_PREFIX, createStaticServer } from './static-server';

/** `netlab-static [port] [--root DIR] [--host HOST] [--listing]`, or the same from env. */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const config = loadConfig(staticConfigSchema(process.cwd()), process.env, {
    argv: { args, spec: argvSpec },
    usage,
  });
  const version = packageVersion(__dirname);
  const runtime = await startRuntime({ service: 'static', version, config: config.runtime });
  const server = createStaticServer({
    options: config.server,
    logger: runtime.logger,
    health: runtime.health,
    beginWork: () => runtime.lifecycle.beginWork(),
  });
  const address = await listen(server, config.runtime.port, config.runtime.host);
  runtime.lifecycle.onShutdown('http', () =>
    closeHttpServer(server, config.runtime.shutdownGraceMs),
  );
  const url = httpUrl(
    advertisedHost(config.runtime.host, config.runtime.advertiseHost),
    address.port,
  );
  runtime.logger.info(
    { host: address.address, port: address.port, url, root: config.server.root },
    'listening',
  );
  if (process.stdout.isTTY) {
    // What `python3 -m http.server` says, for people at a terminal.
    process.stdout.write(
      `Serving HTTP on ${address.address} port ${address.port} (${url}/) from ${config.server.root} ...\n`,
    );
  }
  await runtime.joinNats({ http: url, readiness: `${ADMIN_PREFIX}readyz` });
}

main().catch((err: unknown) => {
  process.stderr.write(`netlab-static: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
