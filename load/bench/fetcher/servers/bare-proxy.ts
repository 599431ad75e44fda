/**
 * The floor of "a fetch service on node:http": `node bare-proxy.ts PORT` takes the same envelope
 * on POST /fetch, fetches it with an undici Pool and answers a small JSON reply, and does nothing
 * else (no validation, no SSRF check, no limits, no metrics, no logs). What the fetcher adds is
 * the difference between the two.
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const pools = new Map<string, Pool>();

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      try {
        const { url } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { url: string };
        const u = new URL(url);
        let pool = pools.get(u.origin);
        if (pool === undefined)
          pools.set(u.origin, (pool = new Pool(u.origin, { connections: 128 })));
        const up = await pool.request({ path: u.pathname + u.search, method: 'GET' });
        const text = Buffer.from(await up.body.arrayBuffer()).toString('utf8');
        const out = JSON.stringify({
          ok: up.statusCode < 400,
          status: up.statusCode,
          url,
          headers: up.headers,
          body: { as: 'text', text },
        });
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(out),
        });
        res.end(out);
      } catch (err) {
        res.writeHead(502).end(String(err));
      }
    })();
  });
}).listen(Number(process.argv[2]), '127.0.0.1');
