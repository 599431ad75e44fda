import {
  ClosedConnectionError,
  DrainingConnectionError,
  headers as natsHeaders,
  NoRespondersError,
  RequestError,
  TimeoutError,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Status,
} from '@nats-io/nats-core';
import { Svcm, type Service } from '@nats-io/services';
import { connect } from '@nats-io/transport-node';
import { netlabError } from './errors';
import type { Logger } from './logger';
import { NATS_REQUEST_ID_HEADER } from './subjects';

export type { Msg, NatsConnection } from '@nats-io/nats-core';
export type { Service, ServiceMsg } from '@nats-io/services';

export interface NatsOptions {
  servers: readonly string[];
  /** Connection name shown by `nats server report connections`: the instance name. */
  name: string;
  logger: Logger;
  /**
   * Bytes that may be published while disconnected (they are sent on reconnect). Past it,
   * {@link NatsClient.publish} throws NATS_BUFFER_FULL at once instead of growing memory.
   */
  maxPendingBytes: number;
  /** Delay between reconnect attempts; attempts never stop. */
  reconnectWaitMs?: number;
  /** Credentials of this part's NATS user (infra/nats/nats.conf); unset: none are sent. */
  user?: string;
  password?: string;
}

/**
 * With a user, replies come back on `_INBOX_<user>.>` instead of the shared `_INBOX.>`, so that
 * the server can let each user subscribe to its own replies only (NATS "private inboxes";
 * infra/nats/nats.conf grants exactly that prefix).
 */
export function inboxPrefixFor(user: string): string {
  return `_INBOX_${user}`;
}

export interface RequestOptions {
  timeoutMs?: number;
  requestId?: string;
}

/**
 * A NATS connection that reconnects forever, logs its status changes, bounds what it buffers
 * while disconnected, and turns request failures into typed {@link NetlabError}s.
 */
export interface NatsClient {
  readonly nc: NatsConnection;
  /** False between a disconnect and the next reconnect. */
  isConnected(): boolean;
  /** Bytes published since the connection dropped, waiting for the reconnect. */
  pendingBytes(): number;
  publish(subject: string, data: Uint8Array | string, opts?: { requestId?: string }): void;
  publishJson(subject: string, value: unknown, opts?: { requestId?: string }): void;
  request(subject: string, data: Uint8Array | string, opts?: RequestOptions): Promise<Msg>;
  /** Flushes, unsubscribes everything gracefully and closes (what SIGTERM does). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

const encoder = new TextEncoder();

function headersWithRequestId(requestId: string | undefined): MsgHdrs | undefined {
  if (requestId === undefined) return undefined;
  const h = natsHeaders();
  h.set(NATS_REQUEST_ID_HEADER, requestId);
  return h;
}

/** Maps what nats.js throws from a request onto netlab's stable codes; anything else passes. */
export function toNatsError(err: unknown, subject: string): unknown {
  const cause = err instanceof RequestError && err.cause !== undefined ? err.cause : err;
  if (cause instanceof TimeoutError || err instanceof TimeoutError) {
    return netlabError('NATS_TIMEOUT', `No reply on ${subject} within the timeout.`, {
      cause: err,
    });
  }
  if (cause instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders())) {
    return netlabError('NATS_NO_RESPONDERS', `No service is listening on ${subject}.`, {
      cause: err,
    });
  }
  if (cause instanceof ClosedConnectionError || cause instanceof DrainingConnectionError) {
    return netlabError('NATS_UNAVAILABLE', `NATS connection is closed (${subject}).`, {
      cause: err,
    });
  }
  return err;
}

/**
 * Connects and resolves once the first connection is up; until then it keeps trying (the caller
 * decides whether to serve meanwhile: main.ts listens first, then awaits this).
 */
export async function connectNats(opts: NatsOptions): Promise<NatsClient> {
  const log = opts.logger.child({ component: 'nats' });
  const nc = await connect({
    servers: [...opts.servers],
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: opts.reconnectWaitMs ?? 1000,
    waitOnFirstConnect: true,
    ...(opts.user === undefined
      ? {}
      : { user: opts.user, pass: opts.password ?? '', inboxPrefix: inboxPrefixFor(opts.user) }),
  });
  log.info({ server: nc.getServer() }, 'connected to NATS');

  let connected = true;
  let pending = 0;
  const onStatus = (s: Status): void => {
    switch (s.type) {
      case 'disconnect':
        connected = false;
        log.warn({ server: s.server }, 'disconnected from NATS; publishes are buffered (bounded)');
        break;
      case 'reconnect':
        connected = true;
        log.info({ server: s.server, flushedBytes: pending }, 'reconnected to NATS');
        pending = 0;
        break;
      case 'reconnecting':
        log.debug('reconnecting to NATS');
        break;
      case 'error':
        log.error({ err: s.error }, 'NATS error');
        break;
      case 'slowConsumer':
        log.warn({ subject: s.sub.getSubject(), pending: s.pending }, 'slow NATS consumer');
        break;
      case 'close':
        connected = false;
        break;
      default:
        log.debug({ status: s.type }, 'NATS status');
    }
  };
  void (async () => {
    for await (const s of nc.status()) onStatus(s);
  })();

  const account = (subject: string, size: number): void => {
    if (connected) return;
    if (pending + size > opts.maxPendingBytes) {
      throw netlabError(
        'NATS_BUFFER_FULL',
        `NATS is disconnected and ${pending} bytes already wait for it (limit NATS_MAX_PENDING=${opts.maxPendingBytes}); dropped a publish to ${subject}.`,
      );
    }
    pending += size;
  };

  const client: NatsClient = {
    nc,
    isConnected: () => connected,
    pendingBytes: () => pending,
    publish(subject, data, pubOpts) {
      const payload = typeof data === 'string' ? encoder.encode(data) : data;
      account(subject, payload.byteLength + subject.length);
      const h = headersWithRequestId(pubOpts?.requestId);
      nc.publish(subject, payload, h === undefined ? undefined : { headers: h });
    },
    publishJson(subject, value, pubOpts) {
      client.publish(subject, JSON.stringify(value), pubOpts);
    },
    async request(subject, data, reqOpts = {}) {
      const payload = typeof data === 'string' ? encoder.encode(data) : data;
      account(subject, payload.byteLength + subject.length);
      const h = headersWithRequestId(reqOpts.requestId);
      try {
        return await nc.request(subject, payload, {
          timeout: reqOpts.timeoutMs ?? 2000,
          ...(h === undefined ? {} : { headers: h }),
        });
      } catch (err) {
        throw toNatsError(err, subject);
      }
    },
    async drain() {
      if (!nc.isClosed()) await nc.drain();
    },
    async close() {
      if (!nc.isClosed()) await nc.close();
    },
  };
  return client;
}

export interface RegistrationOptions {
  /** The micro service name: the part's name (`static`, `tcp-echo`, …). */
  name: string;
  version: string;
  description?: string;
  /** Where others reach this instance: at least `{ http: 'http://HOST:PORT' }`. */
  metadata: Record<string, string>;
}

/**
 * Registers this instance as a NATS micro service, so `$SRV.PING` / `$SRV.INFO` (and
 * `nats micro ls`) list it. Endpoints are added on the returned service; stop it on shutdown.
 */
export async function registerService(
  nc: NatsConnection,
  opts: RegistrationOptions,
): Promise<Service> {
  return new Svcm(nc).add({
    name: opts.name,
    version: opts.version,
    description: opts.description ?? '',
    metadata: opts.metadata,
  });
}
