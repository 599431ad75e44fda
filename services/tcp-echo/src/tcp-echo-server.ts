import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '@netlab/shared';
import { rejectionLine } from './errors';

export interface TcpEchoOptions {
  logger: Logger;
  /** Sessions open at once; the next connection gets one error line and is closed. */
  maxConnections: number;
  /** A session with no traffic for this long is closed; 0: never. */
  idleTimeoutMs: number;
  /** A session whose reading stayed paused this long (its peer does not read) is cut; 0: never. */
  writeDeadlineMs: number;
  /** TCP keep-alive: idle time before the first probe (whole seconds); 0: off. */
  keepAliveMs: number;
  noDelay: boolean;
  /** Stream high-water mark per direction: what is buffered in user space before backpressure. */
  bufferBytes: number;
  /** How long a refused connection stays open for its error line to be read. */
  rejectLingerMs?: number;
  /** Called as a session opens; the function it returns, as it closes (lifecycle.beginWork). */
  trackSession?: () => () => void;
}

/** Why sessions ended other than by the client closing them. */
export interface TcpDisconnects {
  /** No traffic for IDLE_TIMEOUT. */
  idle: number;
  /** The peer left its echo unread for WRITE_DEADLINE. */
  slowReader: number;
  /** ECONNRESET or EPIPE: the peer reset the connection. */
  reset: number;
  /** ETIMEDOUT: keep-alive probes or retransmissions went unanswered. */
  deadPeer: number;
  /** Any other socket error. */
  error: number;
  /** Still open when the shutdown's grace ran out. */
  shutdown: number;
}

export interface TcpEchoStats {
  open: number;
  accepted: number;
  rejected: number;
  bytesIn: number;
  bytesOut: number;
  /** User-space bytes held for open sessions (unread input plus unsent echo). */
  bufferedBytes: number;
  /** Sessions whose reading is paused right now because their peer does not read. */
  stalled: number;
  disconnects: TcpDisconnects;
}

export interface TcpEchoServer {
  /** Not listening yet: main.ts (or a test) listens. */
  readonly server: Server;
  stats(): TcpEchoStats;
  /**
   * Stops accepting, lets open sessions finish for `drainMs`, then ends the rest (their pending
   * echo is flushed, then FIN) and destroys whatever is still open `lingerMs` later. Resolves true
   * when every session had finished by itself.
   */
  shutdown(drainMs: number, lingerMs?: number): Promise<boolean>;
}

const kDone = Symbol('sessionDone');
const kSeen = Symbol('bytesSeen');
const kQuietSince = Symbol('quietSince');
type Session = Socket & { [kDone]?: () => void; [kSeen]: number; [kQuietSince]: number };

const REJECT_LOG_INTERVAL_MS = 10_000;

function ignore(): void {}

/**
 * The echo: `socket.pipe(socket)`, so every byte goes back in order whatever the chunking, and
 * the pipe's backpressure stops reading from a peer that does not read. Per-chunk work is
 * nothing beyond the pipe itself: bytes are counted from `bytesRead`/`bytesWritten` when stats
 * are asked for; idle sessions are found by a sweep that compares those counters, instead of
 * `socket.setTimeout`, whose timer is refreshed on every read and every write (about 5% of the
 * server's CPU per 64-byte round trip); the write deadline only wakes up on the pipe's
 * pause/resume. Every listener is shared by all sessions (`this` is the socket), so a session
 * allocates no closures.
 */
export function createTcpEchoServer(opts: TcpEchoOptions): TcpEchoServer {
  const log = opts.logger.child({ component: 'tcp' });
  const open = new Set<Session>();
  const pausedSince = new Map<Socket, number>();
  const disconnects: TcpDisconnects = {
    idle: 0,
    slowReader: 0,
    reset: 0,
    deadPeer: 0,
    error: 0,
    shutdown: 0,
  };
  const rejection = Buffer.from(rejectionLine(opts.maxConnections));
  const rejectLingerMs = opts.rejectLingerMs ?? 2000;
  const sweepEveryMs = Math.max(10, Math.min(1000, Math.floor(opts.writeDeadlineMs / 4)));
  const idleSweepMs = Math.max(10, Math.min(5000, Math.floor(opts.idleTimeoutMs / 10)));
  let accepted = 0;
  let rejected = 0;
  let rejectedUnlogged = 0;
  let lastRejectLog = -Infinity;
  let closedBytesIn = 0;
  let closedBytesOut = 0;
  let draining = false;
  let sweeper: NodeJS.Timeout | undefined;
  let idleSweeper: NodeJS.Timeout | undefined;
  let onAllClosed: (() => void) | undefined;

  function onClose(this: Session): void {
    open.delete(this);
    pausedSince.delete(this);
    closedBytesIn += this.bytesRead;
    closedBytesOut += this.bytesWritten;
    this[kDone]?.();
    if (open.size === 0) onAllClosed?.();
  }

  function onError(this: Socket, err: NodeJS.ErrnoException): void {
    // The socket is destroyed after this; 'close' follows and does the bookkeeping.
    switch (err.code) {
      case 'ECONNRESET':
      case 'EPIPE':
        disconnects.reset += 1;
        break;
      case 'ETIMEDOUT':
        disconnects.deadPeer += 1;
        break;
      default:
        disconnects.error += 1;
        log.warn({ err, remote: this.remoteAddress }, 'session error');
    }
  }

  function sweepIdle(): void {
    const now = performance.now();
    for (const socket of open) {
      const seen = socket.bytesRead + socket.bytesWritten;
      if (seen !== socket[kSeen]) {
        socket[kSeen] = seen;
        socket[kQuietSince] = now;
      } else if (now - socket[kQuietSince] >= opts.idleTimeoutMs) {
        // A peer that stopped reading is quiet too; the write deadline owns that case.
        if (opts.writeDeadlineMs > 0 && pausedSince.has(socket)) continue;
        disconnects.idle += 1;
        log.debug(
          { code: 'TCP_ECHO_IDLE_TIMEOUT', remote: socket.remoteAddress, port: socket.remotePort },
          'idle session closed',
        );
        socket.destroy();
      }
    }
    if (open.size === 0 && idleSweeper !== undefined) {
      clearInterval(idleSweeper);
      idleSweeper = undefined;
    }
  }

  function sweep(): void {
    const now = performance.now();
    for (const [socket, since] of pausedSince) {
      if (now - since < opts.writeDeadlineMs) continue;
      pausedSince.delete(socket);
      disconnects.slowReader += 1;
      log.debug(
        { code: 'TCP_ECHO_WRITE_DEADLINE', remote: socket.remoteAddress, port: socket.remotePort },
        'peer left its echo unread: disconnected',
      );
      socket.destroy();
    }
    if (pausedSince.size === 0 && sweeper !== undefined) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }

  // The pipe pauses the socket when write() reports a full buffer and resumes it on 'drain'.
  function onPause(this: Socket): void {
    pausedSince.set(this, performance.now());
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, sweepEveryMs);
      sweeper.unref();
    }
  }

  function onResume(this: Socket): void {
    pausedSince.delete(this);
  }

  function reject(socket: Socket): void {
    rejected += 1;
    rejectedUnlogged += 1;
    socket.on('error', ignore);
    // Read and drop what the client sends, so that our close is a FIN after the line and not a
    // reset that could destroy the line in the client's receive buffer.
    socket.resume();
    socket.end(rejection);
    const linger = setTimeout(() => socket.destroy(), rejectLingerMs);
    linger.unref();
    socket.once('close', () => clearTimeout(linger));
    const now = performance.now();
    if (now - lastRejectLog >= REJECT_LOG_INTERVAL_MS) {
      log.warn(
        {
          code: 'TCP_ECHO_TOO_MANY_CONNECTIONS',
          rejected: rejectedUnlogged,
          maxConnections: opts.maxConnections,
        },
        'refusing connections: MAX_CONNECTIONS sessions are open',
      );
      lastRejectLog = now;
      rejectedUnlogged = 0;
    }
  }

  function onConnection(incoming: Socket): void {
    const socket = incoming as Session; // its bookkeeping fields are set below
    if (draining || open.size >= opts.maxConnections) {
      reject(socket);
      return;
    }
    accepted += 1;
    open.add(socket);
    socket.on('error', onError);
    socket.on('close', onClose);
    if (opts.idleTimeoutMs > 0) {
      socket[kSeen] = 0;
      socket[kQuietSince] = performance.now();
      if (idleSweeper === undefined) {
        idleSweeper = setInterval(sweepIdle, idleSweepMs);
        idleSweeper.unref();
      }
    }
    if (opts.writeDeadlineMs > 0) {
      socket.on('pause', onPause);
      socket.on('resume', onResume);
    }
    if (opts.trackSession !== undefined) socket[kDone] = opts.trackSession();
    // Half-close: when the client's FIN arrives, the pipe ends our side after the last echo.
    socket.pipe(socket);
  }

  const server = createServer(
    {
      allowHalfOpen: true,
      noDelay: opts.noDelay,
      keepAlive: opts.keepAliveMs > 0,
      keepAliveInitialDelay: opts.keepAliveMs,
      highWaterMark: opts.bufferBytes,
    },
    onConnection,
  );

  const endGently = (socket: Socket): void => {
    socket.off('pause', onPause);
    socket.unpipe(socket);
    socket.resume(); // drop further input; what was echoed already is flushed before the FIN
    socket.end();
  };

  const waitAllClosed = (ms: number): Promise<boolean> => {
    if (open.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        onAllClosed = undefined;
        resolve(false);
      }, ms);
      onAllClosed = () => {
        clearTimeout(timer);
        onAllClosed = undefined;
        resolve(true);
      };
    });
  };

  return {
    server,
    stats() {
      let bytesIn = closedBytesIn;
      let bytesOut = closedBytesOut;
      let bufferedBytes = 0;
      for (const socket of open) {
        bytesIn += socket.bytesRead;
        bytesOut += socket.bytesWritten;
        bufferedBytes += socket.writableLength + socket.readableLength;
      }
      return {
        open: open.size,
        accepted,
        rejected,
        bytesIn,
        bytesOut,
        bufferedBytes,
        stalled: pausedSince.size,
        disconnects: { ...disconnects },
      };
    },
    async shutdown(drainMs, lingerMs = 250) {
      if (!draining) {
        draining = true;
        if (server.listening) server.close();
        log.info({ open: open.size, drainMs }, 'stopped accepting; letting sessions finish');
      }
      if (await waitAllClosed(drainMs)) return true;
      log.info({ open: open.size }, 'grace ran out: closing the remaining sessions');
      for (const socket of open) {
        disconnects.shutdown += 1;
        endGently(socket);
      }
      if (!(await waitAllClosed(lingerMs))) for (const socket of open) socket.destroy();
      return false;
    },
  };
}
