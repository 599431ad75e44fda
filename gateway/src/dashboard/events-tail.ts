import { setTimeout as sleep } from 'node:timers/promises';
import { DeliverPolicy, jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import { EVENTS_STREAM, subjects, type Logger, type NatsConnection } from '@netlab/shared';

/**
 * The tail of the JetStream stream NETLAB_EVENTS, read with an ordered consumer (ephemeral, no
 * acks, recreated by the client after a gap or a reconnect: nothing on the server to clean up).
 * At start it replays the last `backlog` messages, then follows. If the stream does not exist
 * (nobody created it yet), the same subjects are followed by a plain subscription, so live events
 * still show, and the stream is looked for again every `retryMs`.
 */
export type EventsSource = 'stream' | 'subscription' | 'connecting';

export interface EventsTail {
  source(): EventsSource;
  /** Why the source is not the stream, for the page. */
  detail(): string | undefined;
  close(): Promise<void>;
}

export interface EventsTailOptions {
  nc: NatsConnection;
  logger: Logger;
  /** Messages replayed from the stream at start. */
  backlog: number;
  onMessage(subject: string, data: unknown, seq: number | null, at: string): void;
  retryMs?: number;
}

/** A payload we cannot parse still gets a line: its first bytes as text. */
function decode(bytes: Uint8Array): unknown {
  const text = Buffer.from(
    bytes.buffer,
    bytes.byteOffset,
    Math.min(bytes.byteLength, 64 * 1024),
  ).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { message: text.slice(0, 200) };
  }
}

export function startEventsTail(opts: EventsTailOptions): EventsTail {
  const log = opts.logger.child({ component: 'events-tail' });
  const js = jetstream(opts.nc);
  let source: EventsSource = 'connecting';
  let detail: string | undefined;
  let closed = false;
  let messages: ConsumerMessages | undefined;
  let fallback: ReturnType<NatsConnection['subscribe']> | undefined;
  const pause = new AbortController();

  const follow = (): void => {
    if (fallback !== undefined) return;
    fallback = opts.nc.subscribe(subjects.allEvents, {
      callback: (err, msg) => {
        if (err !== null) return;
        opts.onMessage(msg.subject, decode(msg.data), null, new Date().toISOString());
      },
    });
  };

  const run = async (): Promise<void> => {
    while (!closed) {
      try {
        const stream = await js.streams.get(EVENTS_STREAM);
        const info = await stream.info();
        const { first_seq: first, last_seq: last, messages: count } = info.state;
        const start = count === 0 ? last + 1 : Math.max(first, last - opts.backlog + 1);
        const consumer = await js.consumers.get(EVENTS_STREAM, {
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: Math.max(1, start),
        });
        messages = await consumer.consume();
        if (closed) break;
        fallback?.unsubscribe();
        fallback = undefined;
        source = 'stream';
        detail = undefined;
        log.info({ stream: EVENTS_STREAM, from: start }, 'following the events stream');
        for await (const m of messages) {
          const at = new Date(Math.floor(m.info.timestampNanos / 1e6)).toISOString();
          opts.onMessage(m.subject, decode(m.data), m.seq, at);
        }
      } catch (err) {
        if (closed || opts.nc.isClosed()) break;
        const message = (err as Error).message;
        const missing = /not found/i.test(message);
        detail = missing
          ? `the stream ${EVENTS_STREAM} does not exist: live events only, no history`
          : `cannot read the stream ${EVENTS_STREAM} (${message}): live events only`;
        if (source !== 'subscription') log.warn({ err: message }, detail);
        source = 'subscription';
        follow();
      }
      if (closed || opts.nc.isClosed()) break;
      await sleep(opts.retryMs ?? 10_000, undefined, { signal: pause.signal }).catch(
        () => undefined,
      );
    }
  };
  const running = run();

  return {
    source: () => source,
    detail: () => detail,
    async close() {
      closed = true;
      pause.abort();
      fallback?.unsubscribe();
      await messages?.close();
      await running;
    },
  };
}
