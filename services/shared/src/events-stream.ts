import { jetstreamManager, DiscardPolicy, type StreamConfig } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { inboxPrefixFor } from './nats';
import { EVENTS_STREAM, subjects } from './subjects';

/** How much history NETLAB_EVENTS keeps: whichever limit is reached first drops the oldest. */
export interface EventsStreamLimits {
  maxAgeMs: number;
  maxBytes: number;
}

/** A day of events, at most 64 MiB of them (DESIGN.md: the stream is bounded by age and bytes). */
export const DEFAULT_EVENTS_STREAM_LIMITS: EventsStreamLimits = {
  maxAgeMs: 24 * 60 * 60 * 1000,
  maxBytes: 64 * 1024 * 1024,
};

/**
 * Creates the stream that captures every `netlab.events.>` publish, or brings its limits up to
 * date; idempotent, so every starter of a lab may call it (the `netlab` supervisor right after
 * nats-server is up, so the parts' first `up` events are kept; the gateway when it joins, for
 * labs without a supervisor such as compose).
 */
export async function ensureEventsStream(
  nc: NatsConnection,
  limits: EventsStreamLimits = DEFAULT_EVENTS_STREAM_LIMITS,
): Promise<void> {
  // No `$JS.API.INFO` probe: a part's NATS user may only touch this stream's API subjects.
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const wanted: Partial<StreamConfig> = {
    subjects: [subjects.allEvents],
    max_age: limits.maxAgeMs * 1_000_000, // nanoseconds
    // JetStream refuses a duplicates window (default 2 min) longer than the age limit.
    duplicate_window: Math.min(limits.maxAgeMs, 120_000) * 1_000_000,
    max_bytes: limits.maxBytes,
    discard: DiscardPolicy.Old,
  };
  try {
    const info = await jsm.streams.info(EVENTS_STREAM);
    const c = info.config;
    if (c.max_age !== wanted.max_age || c.max_bytes !== wanted.max_bytes) {
      await jsm.streams.update(EVENTS_STREAM, { ...c, ...wanted });
    }
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add({ name: EVENTS_STREAM, ...wanted });
  }
}

/**
 * `ensureEventsStream` over a short-lived connection of its own, for a starter that holds no
 * NATS connection (the `netlab` supervisor). Fails after `timeoutMs` rather than waiting for a
 * server that does not answer.
 */
export async function ensureEventsStreamAt(opts: {
  servers: string;
  user?: string | undefined;
  password?: string | undefined;
  limits?: EventsStreamLimits;
  timeoutMs?: number;
}): Promise<void> {
  const nc = await connect({
    servers: opts.servers,
    timeout: opts.timeoutMs ?? 5000,
    reconnect: false,
    ...(opts.user === undefined
      ? {}
      : { user: opts.user, pass: opts.password ?? '', inboxPrefix: inboxPrefixFor(opts.user) }),
  });
  try {
    await ensureEventsStream(nc, opts.limits);
  } finally {
    await nc.close();
  }
}
