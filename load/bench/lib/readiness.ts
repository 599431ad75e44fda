import { connect } from 'node:net';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { canPin } from './pinning.ts';

/** Resolves once `url` answers any HTTP status; fails after `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${url} did not answer`, { cause: err });
      await sleep(100);
    }
  }
}

/** Resolves once a TCP connection to host:port succeeds; fails after `timeoutMs`. */
export async function waitForTcp(host: string, port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${host}:${port} did not accept connections`);
    await sleep(100);
  }
}

/** The lines every report states about where it was measured. */
export function machineNotes(): string[] {
  return [
    `machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    canPin()
      ? 'method: server pinned to core 1, load generator to core 0 (taskset); warm-up once, then repetitions interleaved rep → test → system; medians; spread = (max − min) / median'
      : 'method: NOT pinned (taskset missing or one core): figures are indicative only',
    'a load-generator CPU near 100% means the server figure is a lower bound',
  ];
}
