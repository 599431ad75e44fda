import { mkdir, mkdtemp, realpath, rm, utimes, writeFile } from 'node:fs/promises';
import {
  request,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type Server,
} from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { closeHttpServer, createHealth, parseConfig, type Health } from '@netlab/shared';
import { listen, silentLogger } from '@netlab/shared/testing';
import { staticConfigSchema, type StaticServerOptions } from '../src/config';
import { createStaticServer } from '../src/static-server';

/** A temp directory, real-pathed (tmpdir may be a symlink), removed by `dispose`. */
export async function tempDir(prefix = 'netlab-static-'): Promise<{
  dir: string;
  dispose: () => Promise<void>;
}> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes `files` (path → content) under `root`, creating directories. */
export async function writeTree(
  root: string,
  files: Record<string, string | Buffer>,
): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
}

/** Sets a file's mtime (and atime) to a fixed instant, so Last-Modified is predictable. */
export function setMtime(path: string, date: Date): Promise<void> {
  return utimes(path, date, date);
}

/** The server's real defaults for `root` (from the schema), with access logs off. */
export function defaultOptions(
  root: string,
  overrides: Partial<StaticServerOptions> = {},
): StaticServerOptions {
  const config = parseConfig(staticConfigSchema(root), {
    STATIC_ROOT: root,
    STATIC_ACCESS_LOG: 'false',
  });
  return { ...config.server, ...overrides };
}

export interface RunningStatic {
  readonly port: number;
  readonly server: Server;
  readonly health: Health;
  close(): Promise<void>;
}

/** A static server on 127.0.0.1 and a free port. */
export async function startStatic(
  root: string,
  overrides: Partial<StaticServerOptions> = {},
): Promise<RunningStatic> {
  const health = createHealth({
    service: 'static',
    instance: 'static-test',
    defaultMetrics: false,
  });
  const server = createStaticServer({
    options: defaultOptions(root, overrides),
    logger: silentLogger(),
    health,
  });
  const { port } = await listen(server, 0, '127.0.0.1');
  return {
    port,
    server,
    health,
    close: async () => {
      await closeHttpServer(server, 1000);
    },
  };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request on a fresh connection; the whole body is collected (tests use small files). */
export function fetchRaw(
  port: number,
  path: string,
  opts: { method?: string; headers?: OutgoingHttpHeaders } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends `GET <target>` byte for byte over a raw socket (no client-side normalisation) and returns
 * the status and the whole raw response. Ends after `Connection: close`.
 */
export function rawGet(port: number, target: string): Promise<{ status: number; raw: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer for ${target}`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const raw = Buffer.concat(chunks);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw.toString('latin1', 0, 20));
      resolve({ status: m === null ? 0 : Number(m[1]), raw });
    });
    socket.write(
      Buffer.concat([
        Buffer.from('GET ', 'latin1'),
        Buffer.from(target, 'latin1'),
        Buffer.from(' HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', 'latin1'),
      ]),
    );
  });
}

/** The parts of a multipart/byteranges body: each part's headers and bytes. */
export function parseMultipart(
  body: Buffer,
  contentType: string | undefined,
): { headers: Record<string, string>; data: Buffer }[] {
  const m = /boundary=([^;]+)/.exec(contentType ?? '');
  if (m === null) throw new Error(`not multipart: ${contentType}`);
  const delimiter = Buffer.from(`--${m[1]}`);
  const parts: { headers: Record<string, string>; data: Buffer }[] = [];
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    const after = pos + delimiter.length;
    if (body.toString('latin1', after, after + 2) === '--') break;
    const headerEnd = body.indexOf('\r\n\r\n', after);
    const headers: Record<string, string> = {};
    for (const line of body.toString('latin1', after + 2, headerEnd).split('\r\n')) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    parts.push({ headers, data: body.subarray(headerEnd + 4, next) });
    pos = next === -1 ? -1 : next + 2;
  }
  return parts;
}
