import { get } from 'node:http';

/**
 * A GET for the dashboard's pollers (nats-server monitoring, instances' `/metrics`): plain HTTP,
 * no keep-alive, bounded in time and size, so a silent or babbling endpoint costs a timeout and at
 * most `maxBytes`, never the gateway's memory. Rejects with a message fit for the page.
 */
export interface BoundedFetchOptions {
  timeoutMs: number;
  maxBytes: number;
}

export function fetchBounded(url: string, opts: BoundedFetchOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new Error(`not a URL: ${url}`));
      return;
    }
    if (u.protocol !== 'http:') {
      reject(new Error(`only http:// is polled, not ${u.protocol}`));
      return;
    }
    const req = get(u, { agent: false, headers: { accept: 'application/json, text/plain' } });
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer within ${opts.timeoutMs}ms`)),
      opts.timeoutMs,
    );
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.once('response', (res) => {
      if ((res.statusCode ?? 0) !== 200) {
        res.resume();
        clearTimeout(timer);
        reject(new Error(`answered ${res.statusCode}`));
        req.destroy();
        return;
      }
      // Destroying the request makes the response emit an error too: settle once, never throw.
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxBytes) {
          req.destroy(new Error(`answer larger than ${opts.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.once('end', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString('utf8'));
      });
    });
  });
}
