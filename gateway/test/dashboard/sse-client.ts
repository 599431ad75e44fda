import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import { waitFor } from '@netlab/shared/testing';

/** A server-sent events reader for tests: every event parsed as it arrives. */
export interface SseClient {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly events: { event: string; data: unknown }[];
  /** The first event named `event` (after those already matched by `after`) for which `pred` holds. */
  next<T>(event: string, pred?: (data: T) => boolean, timeoutMs?: number): Promise<T>;
  close(): void;
}

export function openSse(url: string): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const events: { event: string; data: unknown }[] = [];
    const req: ClientRequest = get(
      url,
      { agent: false, headers: { accept: 'text/event-stream' } },
      (res) => {
        clearTimeout(timer);
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (data !== '') events.push({ event, data: JSON.parse(data) as unknown });
          }
        });
        res.on('error', () => undefined);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          events,
          async next<T>(
            event: string,
            pred: (data: T) => boolean = () => true,
            timeoutMs = 10_000,
          ) {
            return waitFor(
              `an SSE event ${event}`,
              () =>
                events.find((e) => e.event === event && pred(e.data as T))?.data as T | undefined,
              { timeoutMs },
            );
          },
          close: () => req.destroy(),
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no answer from ${url}`)), 10_000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
