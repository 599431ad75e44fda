import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import type { ControlHello, ControlReply } from '@netlab/shared';
import { Client } from 'net-ipc';
import type { LabCommand, LogLineMessage } from './lab-protocol';

/** The CLI's side of the control socket. */

/** Nothing answers on the socket: no lab runs on this lab directory. */
export class NoLabError extends Error {
  constructor(socketPath: string) {
    super(`no lab is running (no supervisor answers on ${socketPath})`);
    this.name = 'NoLabError';
  }
}

/** The supervisor answered `{ ok: false }`. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

export interface LabClient {
  request<T>(command: LabCommand, timeoutMs: number): Promise<T>;
  onMessage(listener: (message: LogLineMessage) => void): void;
  /** Resolves when the supervisor closes the connection (or goes away). */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

function timeoutAfter(ms: number, what: string): { promise: Promise<never>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Connects as a CLI; throws {@link NoLabError} when nothing listens on the socket. */
export async function connectToLab(socketPath: string, timeoutMs = 5_000): Promise<LabClient> {
  if (!existsSync(socketPath)) throw new NoLabError(socketPath);
  // No reconnecting: a CLI command is one conversation, and a missing lab should fail at once.
  const client = new Client({ path: socketPath, reconnect: false });
  client.on('error', () => undefined); // failures arrive as the reason of 'close'
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  const hello: ControlHello = { kind: 'cli' };
  const timeout = timeoutAfter(timeoutMs, 'connecting to the supervisor');
  try {
    await Promise.race([
      client.connect(hello),
      closed.then(() => Promise.reject(new NoLabError(socketPath))),
      timeout.promise,
    ]);
  } catch (err) {
    client.destroy();
    throw err;
  } finally {
    timeout.cancel();
  }
  return {
    async request<T>(command: LabCommand, requestTimeoutMs: number): Promise<T> {
      const reply = (await Promise.race([
        client.request(command, requestTimeoutMs).catch((reason: unknown) => {
          throw reason instanceof Error ? reason : new Error(String(reason));
        }),
        closed.then(() => Promise.reject(new Error('the supervisor closed the connection'))),
      ])) as ControlReply<T>;
      if (!reply.ok) throw new CommandError(reply.error);
      return reply.result;
    },
    onMessage(listener) {
      client.on('message', (message: LogLineMessage) => listener(message));
    },
    closed,
    async close() {
      await client.close('done').catch(() => undefined);
      client.destroy();
    },
  };
}

/**
 * Whether a supervisor listens on `socketPath`: `up` refuses to start a second one, and removes
 * the socket file of one that died. A plain connect is enough: nobody else listens there.
 */
export function probeSocket(
  socketPath: string,
  timeoutMs = 2_000,
): Promise<'absent' | 'stale' | 'answering'> {
  if (!existsSync(socketPath)) return Promise.resolve('absent');
  return new Promise((resolve) => {
    const socket = connect({ path: socketPath });
    const done = (outcome: 'stale' | 'answering'): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    // A supervisor too busy to accept within the bound still owns the lab.
    const timer = setTimeout(() => done('answering'), timeoutMs);
    socket.once('connect', () => done('answering'));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'stale' : 'answering'),
    );
  });
}
