import cluster, { type Worker } from 'node:cluster';
import { hostname } from 'node:os';
import { runtimeConfig, startRuntime } from '@netlab/shared';
import type { GatewayEnv } from './config';

/**
 * WORKERS > 1: the primary forks that many gateways (node:cluster), which share the HTTP and TCP
 * ports; each is a full gateway with its own pools, discovery and metrics (it registers on NATS as
 * `<instance>-w<n>`). The primary serves nothing: it talks to the supervisor, restarts a worker
 * that crashes, and on SIGTERM lets every worker drain before it exits. Workers ignore signals (a
 * Ctrl-C reaches the whole process group, and a second signal would make them exit at once): the
 * primary tells each one to drain, once.
 */
/** The message that tells a worker to drain and exit (workers ignore signals; see main.ts). */
export const WORKER_SHUTDOWN = 'netlab:shutdown';

export async function runPrimary(env: GatewayEnv, version: string): Promise<void> {
  const runtime = await startRuntime({ service: 'gateway', version, config: runtimeConfig(env) });
  const log = runtime.logger.child({ component: 'workers' });
  const instance = env.NETLAB_INSTANCE ?? `gateway-${hostname()}-${process.pid}`;
  let stopping = false;
  let crashes = 0;

  const fork = (): Worker => {
    const worker = cluster.fork({ NETLAB_INSTANCE: instance, NETLAB_CONTROL_SOCKET: '' });
    worker.once('exit', (code, signal) => {
      if (stopping) return;
      crashes++;
      const delay = Math.min(10_000, 250 * 2 ** Math.min(crashes - 1, 6));
      log.error({ worker: worker.id, code, signal, restartInMs: delay }, 'worker died; restarting');
      setTimeout(() => {
        if (!stopping) fork();
      }, delay).unref();
    });
    worker.once('listening', () => {
      // Up long enough to listen: the crash series (if any) is over.
      if (crashes > 0) setTimeout(() => (crashes = 0), 30_000).unref();
    });
    return worker;
  };

  for (let i = 0; i < env.WORKERS; i++) fork();
  log.info({ workers: env.WORKERS }, 'gateway workers started');

  runtime.lifecycle.onShutdown('workers', async () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter(
      (w): w is Worker => w !== undefined,
    );
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) {
              resolve();
              return;
            }
            w.once('exit', () => resolve());
            w.send(WORKER_SHUTDOWN);
          }),
      ),
    );
  });
}
