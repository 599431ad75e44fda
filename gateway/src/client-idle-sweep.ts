import type { Socket } from 'node:net';

/**
 * CLIENT_IDLE_TIMEOUT without a timer per socket: a client connection on which no byte moved
 * either way for `idleMs` is destroyed (a client that stopped reading, or went silent mid-request).
 * `server.timeout` would do the same with a socket timer that node:http re-arms for every request
 * and refreshes on every read and write, a few percent of the proxy's CPU; here one interval
 * compares byte counters (as tcp-echo does, DECISIONS.md #30), so a connection is cut between
 * `idleMs` and `idleMs` + one sweep period (a tenth of it, between 10 ms and 1 s) after it fell
 * silent. Event streams and tunnels, which may rightly stay silent, are exempted.
 */
export interface ClientIdleSweep {
  watch(socket: Socket): void;
  close(): void;
}

const EXEMPT = Symbol('netlab.idleExempt');
type Watched = Socket & { [EXEMPT]?: true };

interface Seen {
  bytes: number;
  since: number;
}

/** Takes a client socket out of the idle sweep for good (event streams, tunnels). */
export function exemptFromIdleSweep(socket: Socket): void {
  (socket as Watched)[EXEMPT] = true;
}

export function createClientIdleSweep(idleMs: number): ClientIdleSweep {
  const sockets = new Map<Watched, Seen>();
  let timer: NodeJS.Timeout | undefined;
  if (idleMs > 0) {
    timer = setInterval(
      () => {
        const now = Date.now();
        for (const [socket, seen] of sockets) {
          if (socket[EXEMPT] === true) {
            sockets.delete(socket);
            continue;
          }
          const bytes = socket.bytesRead + socket.bytesWritten;
          if (bytes !== seen.bytes) {
            seen.bytes = bytes;
            seen.since = now;
          } else if (now - seen.since >= idleMs) {
            sockets.delete(socket);
            socket.destroy();
          }
        }
      },
      Math.max(10, Math.min(1000, Math.floor(idleMs / 10))),
    );
    timer.unref();
  }
  return {
    watch(socket) {
      if (timer === undefined) return;
      sockets.set(socket, { bytes: 0, since: Date.now() });
      socket.once('close', () => sockets.delete(socket));
    },
    close() {
      clearInterval(timer);
      sockets.clear();
    },
  };
}
