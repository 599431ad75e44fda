import { fetcherError, type FetcherError } from './errors';

export interface ConcurrencyLimits {
  /** Fetches running at once, over all hosts (FETCH_CONCURRENCY). */
  global: number;
  /** Fetches running at once to one host (FETCH_HOST_CONCURRENCY). */
  perHost: number;
  /** Fetches waiting for a slot, over all hosts (FETCH_QUEUE); past it: 503 FETCH_BUSY. */
  queue: number;
  /** Fetches waiting for a slot of one host (FETCH_HOST_QUEUE); past it: 429 FETCH_HOST_BUSY. */
  hostQueue: number;
  /** The Retry-After given with a refusal, seconds (FETCH_BUSY_RETRY_AFTER). */
  retryAfterS: number;
}

export interface ConcurrencyLimiter {
  /**
   * Waits for a slot for `host` (FIFO among waiters that can run) and resolves with its release
   * function, or rejects at once when the queue is full, or with `signal.reason` on abort.
   */
  acquire(host: string, signal?: AbortSignal): Promise<() => void>;
  /** A slot now, without waiting (and without a promise), or undefined. */
  tryAcquire(host: string): (() => void) | undefined;
  stats(): { running: number; queued: number };
}

interface Waiter {
  host: string;
  grant: (release: () => void) => void;
}

export function createConcurrencyLimiter(limits: ConcurrencyLimits): ConcurrencyLimiter {
  let running = 0;
  const runningByHost = new Map<string, number>();
  const queuedByHost = new Map<string, number>();
  const waiters: Waiter[] = [];

  const inc = (map: Map<string, number>, host: string, by: number): void => {
    const n = (map.get(host) ?? 0) + by;
    if (n === 0) map.delete(host);
    else map.set(host, n);
  };

  const canRun = (host: string): boolean =>
    running < limits.global && (runningByHost.get(host) ?? 0) < limits.perHost;

  const take = (host: string): (() => void) => {
    running += 1;
    inc(runningByHost, host, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      running -= 1;
      inc(runningByHost, host, -1);
      pump();
    };
  };

  // Grants slots to the oldest waiters that can run; a waiter for a saturated host does not
  // hold up the waiters behind it for other hosts. Bounded by the queue length.
  const pump = (): void => {
    for (let i = 0; i < waiters.length && running < limits.global;) {
      const w = waiters[i]!;
      if (canRun(w.host)) {
        waiters.splice(i, 1);
        inc(queuedByHost, w.host, -1);
        w.grant(take(w.host));
      } else {
        i += 1;
      }
    }
  };

  const refuse = (code: 'FETCH_BUSY' | 'FETCH_HOST_BUSY', detail: string): FetcherError =>
    fetcherError(code, detail, { retryAfterS: limits.retryAfterS });

  return {
    acquire(host, signal) {
      if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
      if (waiters.length === 0 && canRun(host)) return Promise.resolve(take(host));
      if ((queuedByHost.get(host) ?? 0) >= limits.hostQueue) {
        return Promise.reject(
          refuse(
            'FETCH_HOST_BUSY',
            `${limits.perHost} fetches to ${host} are running and ${limits.hostQueue} wait (FETCH_HOST_CONCURRENCY, FETCH_HOST_QUEUE).`,
          ),
        );
      }
      if (waiters.length >= limits.queue) {
        return Promise.reject(
          refuse(
            'FETCH_BUSY',
            `${running} fetches are running and ${waiters.length} wait (FETCH_CONCURRENCY, FETCH_QUEUE).`,
          ),
        );
      }
      return new Promise((resolve, reject) => {
        const onAbort = (): void => {
          const i = waiters.indexOf(waiter);
          if (i !== -1) {
            waiters.splice(i, 1);
            inc(queuedByHost, host, -1);
          }
          reject(signal!.reason as Error);
        };
        const waiter: Waiter = {
          host,
          grant: (release) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(release);
          },
        };
        waiters.push(waiter);
        inc(queuedByHost, host, 1);
        signal?.addEventListener('abort', onAbort, { once: true });
        pump();
      });
    },
    tryAcquire: (host) => (waiters.length === 0 && canRun(host) ? take(host) : undefined),
    stats: () => ({ running, queued: waiters.length }),
  };
}
