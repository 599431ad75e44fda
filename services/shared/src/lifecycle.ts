import type { ControlClient } from './control';
import type { Health } from './health';
import type { InstanceStatus } from './control';
import type { Logger } from './logger';

export type ShutdownHook = () => unknown;

export interface LifecycleOptions {
  logger: Logger;
  /** How long every shutdown hook together may take before the process exits anyway. */
  graceMs: number;
  /** Readiness goes 503 when shutdown begins. */
  health?: Health;
  /** Tests replace it; main.ts leaves process.exit. */
  exit?: (code: number) => void;
}

/**
 * Start-to-exit bookkeeping of a process. On the first SIGTERM or SIGINT (or a supervisor
 * `drain`): readiness goes 503, the shutdown hooks run (stop
 * accepting, finish in-flight work, drain NATS) within the grace period, then the process exits 0
 * (1 when the grace period ran out or a hook failed). A second signal exits at once with 130.
 */
export interface Lifecycle {
  /**
   * Registers cleanup. Hooks run in registration order, one after another: main.ts registers its
   * listeners as it opens them, and NATS joins last, so the listeners stop and finish their work
   * before NATS drains.
   */
  onShutdown(name: string, hook: ShutdownHook): void;
  /** Counts one unit of in-flight work (a request, a connection); call the result when done. */
  beginWork(): () => void;
  inFlight(): number;
  isShuttingDown(): boolean;
  status(): InstanceStatus;
  /** Runs the shutdown once; later calls return the same promise. Resolves with the exit code. */
  shutdown(reason: string): Promise<number>;
  installSignalHandlers(): void;
  /** Keeps the supervisor connection; it is closed as the very last hook. */
  attachControl(control: ControlClient): void;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function createLifecycle(opts: LifecycleOptions): Lifecycle {
  const log = opts.logger.child({ component: 'lifecycle' });
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const hooks: { name: string; hook: ShutdownHook }[] = [];
  const startedAt = Date.now();
  let working = 0;
  let shutdownPromise: Promise<number> | undefined;
  let control: ControlClient | undefined;

  const runHooks = async (): Promise<boolean> => {
    let ok = true;
    for (const { name, hook } of hooks) {
      try {
        await hook();
        log.debug({ hook: name }, 'shutdown hook done');
      } catch (err) {
        ok = false;
        log.error({ err, hook: name }, 'shutdown hook failed');
      }
    }
    return ok;
  };

  const lifecycle: Lifecycle = {
    onShutdown: (name, hook) => void hooks.push({ name, hook }),
    beginWork() {
      working += 1;
      let done = false;
      return () => {
        if (!done) {
          done = true;
          working -= 1;
        }
      };
    },
    inFlight: () => working,
    isShuttingDown: () => shutdownPromise !== undefined,
    status: () => {
      const mem = process.memoryUsage();
      return {
        pid: process.pid,
        uptimeMs: Date.now() - startedAt,
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        inFlight: working,
        draining: shutdownPromise !== undefined,
      };
    },
    shutdown(reason) {
      shutdownPromise ??= (async () => {
        log.info({ reason, inFlight: working, graceMs: opts.graceMs }, 'shutting down');
        opts.health?.setDraining();
        const outcome = await withTimeout(runHooks(), opts.graceMs);
        const code = outcome === true ? 0 : 1;
        if (outcome === 'timeout') {
          log.error({ inFlight: working }, 'grace period ran out; exiting with work unfinished');
        } else {
          log.info({ code }, 'shutdown complete');
        }
        await control?.close();
        return code;
      })();
      return shutdownPromise;
    },
    installSignalHandlers() {
      const onSignal = (signal: NodeJS.Signals): void => {
        if (shutdownPromise !== undefined) {
          log.warn({ signal }, 'second signal: exiting now');
          exit(130);
          return;
        }
        void lifecycle.shutdown(signal).then(exit);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    },
    attachControl(c) {
      control = c;
    },
  };
  return lifecycle;
}
