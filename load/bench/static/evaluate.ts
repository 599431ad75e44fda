/**
 * The issue asks to evaluate `send` (behind express.static) and its maintained fork
 * `@fastify/send` before writing a static server by hand. This runs one conformance matrix (the
 * behaviours services/static's tests demand) against each of them and netlab-static, on the same
 * files, and prints which cases each passes:
 *
 *   node load/bench/static/evaluate.ts
 *
 * The speed half of the evaluation is run.ts (express.static is send; @fastify/send runs bare).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { repoRoot } from '../lib/index.ts';
import type { BenchSystem } from '../lib/index.ts';
import { expressStatic, fastifySend, installPeers, netlabStatic, send } from './systems.ts';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function fetchRaw(
  base: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Reply> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const DATA = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
const JS = 'export const x = 1;\n'.repeat(100);
const SECRET = 'SECRET-OUTSIDE-THE-ROOT';

function makeSite(dir: string): string {
  const www = join(dir, 'www');
  const files: Record<string, string | Buffer> = {
    'index.html': '<h1>home</h1>',
    'data.bin': DATA,
    'hello.txt': 'hello',
    'app.js': JS,
    'app.js.gz': gzipSync(JS),
    'app.js.br': brotliCompressSync(JS),
    '.env': 'SECRET=1',
    'sub/index.html': 'sub',
    'evil.example/index.html': 'x',
  };
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(www, p, '..'), { recursive: true });
    writeFileSync(join(www, p), content);
  }
  writeFileSync(join(dir, 'secret.txt'), SECRET);
  symlinkSync(join(dir, 'secret.txt'), join(www, 'leak.txt'));
  return www;
}

type Check = (
  get: (path: string, headers?: Record<string, string>, method?: string) => Promise<Reply>,
) => Promise<boolean>;

const CASES: [string, Check][] = [
  [
    'strong ETag (no W/)',
    async (get) => /^"[^"]+"$/.test((await get('/data.bin')).headers.etag ?? ''),
  ],
  [
    '304 for If-None-Match with the ETag',
    async (get) => {
      const etag = (await get('/data.bin')).headers.etag ?? '';
      return (await get('/data.bin', { 'if-none-match': etag })).status === 304;
    },
  ],
  [
    '304 for If-None-Match with the weak form (weak comparison)',
    async (get) => {
      const etag = (await get('/data.bin')).headers.etag ?? '';
      return (
        (await get('/data.bin', { 'if-none-match': etag.startsWith('W/') ? etag : `W/${etag}` }))
          .status === 304
      );
    },
  ],
  [
    '304 for If-Modified-Since = Last-Modified',
    async (get) => {
      const lm = (await get('/data.bin')).headers['last-modified'] ?? '';
      return (await get('/data.bin', { 'if-modified-since': lm })).status === 304;
    },
  ],
  [
    '412 for If-Match with another ETag',
    async (get) => (await get('/data.bin', { 'if-match': '"nope"' })).status === 412,
  ],
  [
    '412 for If-Unmodified-Since in the past',
    async (get) =>
      (await get('/data.bin', { 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:01 GMT' }))
        .status === 412,
  ],
  [
    '206 for bytes=0-9 with Content-Range',
    async (get) => {
      const r = await get('/data.bin', { range: 'bytes=0-9' });
      return (
        r.status === 206 &&
        r.headers['content-range'] === 'bytes 0-9/1000' &&
        r.body.equals(DATA.subarray(0, 10))
      );
    },
  ],
  [
    '206 for the suffix range bytes=-10',
    async (get) => {
      const r = await get('/data.bin', { range: 'bytes=-10' });
      return r.status === 206 && r.body.equals(DATA.subarray(990));
    },
  ],
  [
    '416 with Content-Range bytes */1000',
    async (get) => {
      const r = await get('/data.bin', { range: 'bytes=1000-' });
      return r.status === 416 && r.headers['content-range'] === 'bytes */1000';
    },
  ],
  [
    'multipart/byteranges for two ranges',
    async (get) => {
      const r = await get('/data.bin', { range: 'bytes=0-9,20-29' });
      return (
        r.status === 206 && (r.headers['content-type'] ?? '').startsWith('multipart/byteranges')
      );
    },
  ],
  [
    'If-Range with the current ETag honours the Range',
    async (get) => {
      const etag = (await get('/data.bin')).headers.etag ?? '';
      return (await get('/data.bin', { range: 'bytes=0-9', 'if-range': etag })).status === 206;
    },
  ],
  [
    'If-Range with a stale ETag sends the whole file',
    async (get) =>
      (await get('/data.bin', { range: 'bytes=0-9', 'if-range': '"stale"' })).status === 200,
  ],
  [
    'precompressed .br chosen by Accept-Encoding',
    async (get) =>
      (await get('/app.js', { 'accept-encoding': 'br, gzip' })).headers['content-encoding'] ===
      'br',
  ],
  [
    'Vary: Accept-Encoding on a precompressed response',
    async (get) =>
      /accept-encoding/i.test(
        (await get('/app.js', { 'accept-encoding': 'gzip' })).headers.vary ?? '',
      ),
  ],
  [
    '405 with Allow for POST',
    async (get) => {
      const r = await get('/data.bin', {}, 'POST');
      return r.status === 405 && /GET/.test(r.headers.allow ?? '');
    },
  ],
  [
    'HEAD: same Content-Length, no body',
    async (get) => {
      const r = await get('/data.bin', {}, 'HEAD');
      return r.status === 200 && r.headers['content-length'] === '1000' && r.body.length === 0;
    },
  ],
  ['dotfiles hidden', async (get) => [403, 404].includes((await get('/.env')).status)],
  [
    'symlink out of the root: 404, no byte of it',
    async (get) => {
      const r = await get('/leak.txt');
      return r.status === 404 && !r.body.toString().includes(SECRET);
    },
  ],
  [
    '%2e%2e traversal refused',
    async (get) => {
      const r = await get('/%2e%2e/secret.txt');
      return [400, 403, 404].includes(r.status) && !r.body.toString().includes(SECRET);
    },
  ],
  ['NUL in the path: 400', async (get) => (await get('/data.bin%00.txt')).status === 400],
  [
    'directory without slash: 301 to the slash',
    async (get) => {
      const r = await get('/sub');
      return r.status === 301 && r.headers.location === '/sub/';
    },
  ],
  [
    'no open redirect for //evil.example',
    async (get) => {
      const r = await get('//evil.example');
      return !(r.headers.location ?? '').startsWith('//');
    },
  ],
  [
    'charset=utf-8 for text',
    async (get) => /charset=utf-8/i.test((await get('/hello.txt')).headers['content-type'] ?? ''),
  ],
  [
    'problem+json for a client that asks for JSON',
    async (get) =>
      (await get('/missing', { accept: 'application/json' })).headers['content-type'] ===
      'application/problem+json',
  ],
];

async function main(): Promise<void> {
  installPeers((line) => void process.stderr.write(`${line}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'netlab-eval-static-'));
  try {
    const www = makeSite(dir);
    const systems: BenchSystem[] = [
      netlabStatic(www),
      send(www),
      fastifySend(www),
      expressStatic(www),
    ];
    const results = new Map<string, boolean[]>();
    for (const system of systems) {
      const running = await system.start();
      try {
        const get = (path: string, headers?: Record<string, string>, method?: string) =>
          fetchRaw(running.url, path, headers, method);
        const row: boolean[] = [];
        for (const [, check] of CASES) row.push(await check(get).catch(() => false));
        results.set(system.name, row);
      } finally {
        await running.stop();
      }
    }
    const names = systems.map((s) => s.name);
    const lines = [
      `| case | ${names.join(' | ')} |`,
      `| --- | ${names.map(() => '---').join(' | ')} |`,
      ...CASES.map(
        ([name], i) =>
          `| ${name} | ${names.map((n) => (results.get(n)?.[i] ? '✓' : '✗')).join(' | ')} |`,
      ),
      `| **passed** | ${names.map((n) => `${results.get(n)?.filter(Boolean).length}/${CASES.length}`).join(' | ')} |`,
    ];
    const markdown = `# Static file libraries against the static server's test matrix\n\n${lines.join('\n')}\n`;
    const out = join(
      repoRoot(process.cwd()),
      'load',
      'results',
      `${new Date().toISOString().replace(/[:.]/g, '-')}-static-libraries`,
    );
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'report.md'), markdown);
    process.stdout.write(`${markdown}\nwritten to ${out}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
