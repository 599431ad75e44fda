import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { Gauge, Counter, type Registry } from 'prom-client';
import {
  subjects,
  toProblem,
  PROBLEM_CONTENT_TYPE,
  type Logger,
  type NatsClient,
} from '@netlab/shared';
import { dynamicError } from './errors';
import type { QuoteChange } from './stock-repository';

/** Where price changes are published, for every instance and the NETLAB_EVENTS stream. */
export const QUOTES_SUBJECT = subjects.event('dynamic', 'quotes');
/** Changes per event: keeps each NATS message and SSE frame far below 1 MiB. */
export const CHANGES_PER_EVENT = 500;

/** One batch of price changes, as sent over NATS, SSE (`event: quotes`) and WebSocket. */
export interface QuotesEvent {
  type: 'quotes';
  /** The instance that applied the changes. */
  instance: string;
  /** Per-instance sequence number of the event. */
  seq: number;
  at: string;
  changes: QuoteChange[];
}

export interface QuoteHubOptions {
  instance: string;
  logger: Logger;
  registry: Registry;
  /** SSE and WebSocket clients together; more get 503 STREAM_FULL. */
  maxClients: number;
  heartbeatMs: number;
  /** A client whose unsent data exceeds this is too slow: it is disconnected. */
  maxBufferedBytes: number;
  wsMaxPayloadBytes: number;
}

/**
 * Fans price changes out to the browsers connected to this instance, over SSE and WebSocket, and
 * to the other instances over NATS. Changes applied here are pushed locally at once and published
 * with this instance's name; events from NATS with another name are pushed locally too, so a
 * browser sees every change whichever instance it is connected to.
 */
export interface QuoteHub {
  publish(changes: readonly QuoteChange[]): void;
  /** Subscribes to the other instances' events; returns the subscription's closer. */
  attachNats(nats: NatsClient): { close(): void };
  /** Serves `GET /api/stream/quotes` (text/event-stream). */
  serveSse(req: IncomingMessage, res: ServerResponse): void;
  /** Handles an HTTP upgrade to `/ws/quotes`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  clients(): number;
  /** Ends every stream (shutdown), refusing new ones. */
  close(): void;
}

function rejectUpgrade(socket: Duplex, status: number, reason: string, body: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function createQuoteHub(opts: QuoteHubOptions): QuoteHub {
  const log = opts.logger.child({ component: 'quote-hub' });
  const sseClients = new Set<ServerResponse>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.wsMaxPayloadBytes,
    clientTracking: true,
  });
  let seq = 0;
  let closed = false;

  const gauge = new Gauge({
    name: 'dynamic_stream_clients',
    help: 'Live-update clients connected, by transport',
    labelNames: ['transport'],
    registers: [opts.registry],
    collect() {
      this.set({ transport: 'sse' }, sseClients.size);
      this.set({ transport: 'ws' }, wss.clients.size);
    },
  });
  void gauge;
  const dropped = new Counter({
    name: 'dynamic_stream_slow_clients_dropped_total',
    help: 'Live-update clients disconnected because they did not keep up',
    labelNames: ['transport'],
    registers: [opts.registry],
  });
  const events = new Counter({
    name: 'dynamic_quote_events_total',
    help: 'Quote events pushed to clients, by origin (local or nats)',
    labelNames: ['origin'],
    registers: [opts.registry],
  });

  const clientCount = (): number => sseClients.size + wss.clients.size;

  const pushLocal = (event: QuotesEvent): void => {
    const json = JSON.stringify(event);
    const frame = `id: ${event.instance}.${event.seq}\nevent: quotes\ndata: ${json}\n\n`;
    for (const res of sseClients) {
      if (res.writableLength > opts.maxBufferedBytes) {
        dropped.inc({ transport: 'sse' });
        res.destroy();
        continue;
      }
      res.write(frame);
    }
    for (const ws of wss.clients) {
      if (ws.bufferedAmount > opts.maxBufferedBytes) {
        dropped.inc({ transport: 'ws' });
        ws.terminate();
        continue;
      }
      ws.send(json);
    }
  };

  let nats: NatsClient | undefined;

  const heartbeat = setInterval(() => {
    for (const res of sseClients) res.write(': keep-alive\n\n');
    for (const ws of wss.clients) {
      const alive = ws as WebSocket & { netlabAlive?: boolean };
      if (alive.netlabAlive === false) {
        ws.terminate();
        continue;
      }
      alive.netlabAlive = false;
      ws.ping();
    }
  }, opts.heartbeatMs);
  heartbeat.unref();

  wss.on('connection', (ws: WebSocket & { netlabAlive?: boolean }) => {
    ws.netlabAlive = true;
    ws.on('pong', () => (ws.netlabAlive = true));
    ws.on('message', (data, isBinary) => {
      // The stream is one-way; a ping message gets a pong so clients can measure latency.
      if (!isBinary && (data as Buffer).toString() === '{"type":"ping"}')
        ws.send('{"type":"pong"}');
    });
    ws.on('error', (err) => log.debug({ err }, 'websocket error'));
    ws.send(JSON.stringify({ type: 'hello', instance: opts.instance }));
  });

  return {
    publish(changes) {
      for (let i = 0; i < changes.length; i += CHANGES_PER_EVENT) {
        seq += 1;
        const event: QuotesEvent = {
          type: 'quotes',
          instance: opts.instance,
          seq,
          at: new Date().toISOString(),
          changes: changes.slice(i, i + CHANGES_PER_EVENT),
        };
        events.inc({ origin: 'local' });
        pushLocal(event);
        if (nats !== undefined) {
          try {
            nats.publishJson(QUOTES_SUBJECT, event);
          } catch (err) {
            log.warn({ err }, 'could not publish quote changes on NATS');
          }
        }
      }
    },

    attachNats(client) {
      nats = client;
      const sub = client.nc.subscribe(QUOTES_SUBJECT, {
        callback: (err, msg) => {
          if (err !== null) return;
          try {
            const event = msg.json<QuotesEvent>();
            if (event.type !== 'quotes' || event.instance === opts.instance) return;
            if (!Array.isArray(event.changes)) return;
            events.inc({ origin: 'nats' });
            pushLocal(event);
          } catch (e) {
            log.warn({ err: e }, 'ignored a malformed quotes event');
          }
        },
      });
      return {
        close() {
          nats = undefined;
          sub.unsubscribe();
        },
      };
    },

    serveSse(req, res) {
      if (closed || clientCount() >= opts.maxClients) {
        const err = closed
          ? dynamicError('STREAM_FULL', 'The instance is shutting down.')
          : dynamicError(
              'STREAM_FULL',
              `${opts.maxClients} live-update clients are connected (STREAM_MAX_CLIENTS).`,
            );
        const body = JSON.stringify(toProblem(err, req.url));
        res.writeHead(503, { 'content-type': PROBLEM_CONTENT_TYPE, 'retry-after': '5' });
        res.end(body);
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // Tell nginx-style proxies not to buffer the stream.
        'x-accel-buffering': 'no',
      });
      res.write(`retry: 2000\n: connected to ${opts.instance}\n\n`);
      sseClients.add(res);
      res.on('close', () => sseClients.delete(res));
    },

    handleUpgrade(req, socket, head) {
      if (closed || clientCount() >= opts.maxClients) {
        const body = JSON.stringify(
          toProblem(
            dynamicError(
              'STREAM_FULL',
              closed
                ? 'The instance is shutting down.'
                : `${opts.maxClients} live-update clients are connected (STREAM_MAX_CLIENTS).`,
            ),
            req.url,
          ),
        );
        rejectUpgrade(socket, 503, 'Service Unavailable', body);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },

    clients: clientCount,

    close() {
      closed = true;
      clearInterval(heartbeat);
      for (const res of sseClients) res.end();
      sseClients.clear();
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
      // A client that does not answer the close handshake must not hold up the shutdown.
      setTimeout(() => {
        for (const ws of wss.clients) ws.terminate();
      }, 1000).unref();
      wss.close();
    },
  };
}
