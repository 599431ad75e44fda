import WebSocket from 'ws';
import type { QuotesEvent } from '../src/quote-hub';

/** An SSE client on a real socket: collects parsed `event:`/`data:` frames. */
export interface SseClient {
  readonly status: number;
  readonly events: { event: string; data: string; id?: string }[];
  /** Resolves with the first quotes event matching, or rejects after `timeoutMs`. */
  next(match: (e: QuotesEvent) => boolean, timeoutMs?: number): Promise<QuotesEvent>;
  close(): void;
}

export async function openSse(url: string): Promise<SseClient> {
  const abort = new AbortController();
  const res = await fetch(url, { signal: abort.signal, headers: { accept: 'text/event-stream' } });
  const events: { event: string; data: string; id?: string }[] = [];
  const waiters = new Set<() => void>();
  if (res.ok && res.body !== null) {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const e: { event: string; data: string; id?: string } = { event: 'message', data: '' };
            for (const line of frame.split('\n')) {
              if (line.startsWith('event: ')) e.event = line.slice(7);
              else if (line.startsWith('data: ')) e.data += line.slice(6);
              else if (line.startsWith('id: ')) e.id = line.slice(4);
            }
            if (e.data !== '') events.push(e);
            for (const w of waiters) w();
          }
        }
      } catch {
        // aborted by close()
      }
    })();
  } else {
    await res.body?.cancel();
  }
  const quotes = (): QuotesEvent[] =>
    events.filter((e) => e.event === 'quotes').map((e) => JSON.parse(e.data) as QuotesEvent);
  return {
    status: res.status,
    events,
    next(match, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = quotes().find(match);
          if (hit !== undefined) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching SSE quotes event within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => abort.abort(),
  };
}

/** A WebSocket client that keeps every JSON message it receives. */
export interface WsClient {
  readonly ws: WebSocket;
  readonly messages: Record<string, unknown>[];
  next(
    match: (m: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  closed(): Promise<{ code: number; reason: string }>;
}

export function openWs(url: string): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const messages: Record<string, unknown>[] = [];
    const waiters = new Set<() => void>();
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws.on('close', (code, reason) => r({ code, reason: reason.toString() })),
    );
    ws.on('message', (data) => {
      messages.push(JSON.parse((data as Buffer).toString()) as Record<string, unknown>);
      for (const w of waiters) w();
    });
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade refused: ${res.statusCode}`)),
    );
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        messages,
        closed: () => closed,
        next(match, timeoutMs = 5000) {
          return new Promise((res, rej) => {
            const check = (): void => {
              const hit = messages.find(match);
              if (hit !== undefined) {
                waiters.delete(check);
                clearTimeout(timer);
                res(hit);
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              rej(new Error(`no matching WebSocket message within ${timeoutMs} ms`));
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
      }),
    );
  });
}
