import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { parseArgs } from 'node:util';
import {
  connectNats,
  isNetlabError,
  netlabError,
  parseConfig,
  silentLogger,
  subjects,
  toProblem,
  type Problem,
} from '@netlab/shared';
import { Agent, request } from 'undici';
import { parseAllowList } from './address-policy';
import { configSchema } from './config';
import { createFetcherCore } from './fetcher-core';
import { parseFetchRequest, type FetchRequestInput, type FetchResponse } from './request-model';
import { renderProgress, formatBytes } from './progress-bar';
import { createMemorySessionStore } from './session-store';

/**
 * `netlab-fetch`: an httpie-like command line for the fetcher. It sends the envelope to a running
 * fetcher (`--fetcher URL`, default $NETLAB_FETCHER_URL or http://127.0.0.1:8083), over NATS
 * (`--nats URL`), or runs the engine in-process (`--local`, with the FETCH_* variables and
 * `--allow`). cli-main.ts is its composition root; this file takes argv, env and streams.
 */

export const CLI_USAGE = `Usage: netlab-fetch [METHOD] URL [ITEM ...] [OPTIONS]

Items (httpie style):
  name==value          query parameter            (also -p name=value)
  Header:value         request header             (also -H 'Header: value')
  name=value           JSON field (form field with -f)
  name:=json           raw JSON field, e.g. n:=3 tags:='["a"]'
  field@path           file upload (multipart)    (also -F field=@path)

Options:
  -p, --param K=V         query parameter (repeatable)
  -H, --header 'K: V'     request header (repeatable)
      --json TEXT         the JSON body, as text
  -d, --data K=V          form field (application/x-www-form-urlencoded; repeatable)
  -F, --form K=V|K=@PATH  multipart field or file (repeatable)
  -f, --form-items        send name=value items as a form instead of JSON
  -a, --auth USER:PASS    basic auth            --bearer TOKEN   bearer auth
      --session NAME      keep cookies in a named session (shared by every fetcher)
      --timeout S         seconds to connect and between bytes
      --total S           seconds for the whole fetch
      --retries N         retries (idempotent methods; add --retry-any for the rest)
      --no-follow         do not follow redirects     --max-redirects N
  -k, --insecure          accept any TLS certificate  --ca FILE   extra CA (PEM)
      --proxy URL         through an HTTP(S) proxy
      --as KIND           body as auto, text, json, base64 or none
  -o, --output FILE       download the body to FILE, with a progress bar on stderr
      --progress          show the progress bar even when stderr is not a terminal
  -v, --verbose           print the request and every redirect too
      --headers           print the response headers only
      --body              print the response body only
      --check-status      exit 3/4/5 on a 3xx/4xx/5xx status (as httpie)
      --fetcher URL       the fetcher to ask (default $NETLAB_FETCHER_URL or http://127.0.0.1:8083)
      --nats URL          ask over NATS (netlab.fetcher.fetch) instead of HTTP
      --local             fetch in this process (FETCH_* variables apply)
      --allow LIST        with --local: more FETCH_ALLOW entries, e.g. 127.0.0.1
  -h, --help              this text

Exit codes: 0 a response arrived; 1 the fetch failed (the problem is printed); 2 bad usage;
3/4/5 with --check-status.`;

export interface CliIo {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
}

/** A failed fetch, as the fetcher described it. */
export class CliFailure extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.code}: ${problem.detail ?? problem.title}`);
  }
}

export class CliUsageError extends Error {}

/** How long --nats waits for a first connection (NETLAB_FETCH_NATS_TIMEOUT, seconds). */
const DEFAULT_NATS_CONNECT_TIMEOUT_S = 5;

type Mode =
  | { kind: 'http'; url: string }
  | { kind: 'nats'; url: string }
  | { kind: 'local'; allow: string | undefined };

export interface CliCommand {
  envelope: FetchRequestInput;
  mode: Mode;
  output: string | undefined;
  progress: boolean;
  print: 'auto' | 'headers' | 'body' | 'all';
  verbose: boolean;
  checkStatus: boolean;
}

const SEPARATORS = [':=', '==', '=', '@', ':'] as const;

/** Splits an httpie item at its first separator (the longer one wins a tie). */
function splitItem(
  item: string,
): { sep: (typeof SEPARATORS)[number]; key: string; value: string } | undefined {
  let best: { sep: (typeof SEPARATORS)[number]; at: number } | undefined;
  for (const sep of SEPARATORS) {
    const at = item.indexOf(sep);
    if (at > 0 && (best === undefined || at < best.at)) best = { sep, at };
  }
  if (best === undefined) return undefined;
  return {
    sep: best.sep,
    key: item.slice(0, best.at),
    value: item.slice(best.at + best.sep.length),
  };
}

/** httpie's URL shorthands: `:8080/x` is localhost, a bare host gets http://. */
export function expandUrl(raw: string): string {
  if (/^:\d*(\/|$)/.test(raw)) return `http://localhost${raw}`;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) return `http://${raw}`;
  return raw;
}

function splitPair(text: string, sep: string, flag: string): [string, string] {
  const at = text.indexOf(sep);
  if (at <= 0)
    throw new CliUsageError(`${flag} expects NAME${sep}VALUE, got ${JSON.stringify(text)}`);
  return [text.slice(0, at).trim(), text.slice(at + sep.length).trimStart()];
}

function seconds(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0)
    throw new CliUsageError(`${flag} expects seconds > 0, got ${text}`);
  return n;
}

/** Turns argv into an envelope and what to do with the answer. Throws CliUsageError. */
export async function parseCliArgs(
  argv: readonly string[],
  env: CliIo['env'],
): Promise<CliCommand | 'help'> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        param: { type: 'string', short: 'p', multiple: true },
        header: { type: 'string', short: 'H', multiple: true },
        json: { type: 'string' },
        data: { type: 'string', short: 'd', multiple: true },
        form: { type: 'string', short: 'F', multiple: true },
        'form-items': { type: 'boolean', short: 'f' },
        auth: { type: 'string', short: 'a' },
        bearer: { type: 'string' },
        session: { type: 'string' },
        timeout: { type: 'string' },
        total: { type: 'string' },
        retries: { type: 'string' },
        'retry-any': { type: 'boolean' },
        'no-follow': { type: 'boolean' },
        'max-redirects': { type: 'string' },
        insecure: { type: 'boolean', short: 'k' },
        ca: { type: 'string' },
        proxy: { type: 'string' },
        as: { type: 'string' },
        output: { type: 'string', short: 'o' },
        progress: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        headers: { type: 'boolean' },
        body: { type: 'boolean' },
        'check-status': { type: 'boolean' },
        fetcher: { type: 'string' },
        nats: { type: 'string' },
        local: { type: 'boolean' },
        allow: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
  const o = parsed.values;
  if (o.help === true) return 'help';
  const positionals = [...parsed.positionals];
  let method: string | undefined;
  if (positionals.length >= 2 && /^[A-Z]+$/.test(positionals[0]!)) method = positionals.shift();
  const rawUrl = positionals.shift();
  if (rawUrl === undefined) throw new CliUsageError('a URL is required');

  const params: [string, string][] = [];
  const headers: [string, string][] = [];
  const jsonFields: Record<string, unknown> = {};
  const formFields: [string, string][] = [];
  const files: { field: string; path?: string; content?: string; filename?: string }[] = [];
  const local = o.local === true;

  const addFile = async (field: string, path: string): Promise<void> => {
    if (local) {
      files.push({ field, path });
      return;
    }
    // A remote fetcher cannot read this machine's files: the content travels inline.
    let content: Buffer;
    try {
      content = await readFile(path);
    } catch (err) {
      throw new CliUsageError(`cannot read ${path}: ${(err as Error).message}`);
    }
    files.push({
      field,
      content: content.toString('base64'),
      filename: path.split('/').pop() ?? field,
    });
  };

  for (const p of o.param ?? []) params.push(splitPair(p, '=', '--param'));
  for (const h of o.header ?? []) headers.push(splitPair(h, ':', '--header'));
  for (const d of o.data ?? []) formFields.push(splitPair(d, '=', '--data'));
  for (const f of o.form ?? []) {
    const [k, v] = splitPair(f, '=', '--form');
    if (v.startsWith('@')) await addFile(k, v.slice(1));
    else formFields.push([k, v]);
  }
  for (const item of positionals) {
    const s = splitItem(item);
    if (s === undefined)
      throw new CliUsageError(`not an item: ${JSON.stringify(item)} (see --help)`);
    switch (s.sep) {
      case '==':
        params.push([s.key, s.value]);
        break;
      case ':':
        headers.push([s.key, s.value.trimStart()]);
        break;
      case '=':
        if (o['form-items'] === true) formFields.push([s.key, s.value]);
        else jsonFields[s.key] = s.value;
        break;
      case ':=':
        try {
          jsonFields[s.key] = JSON.parse(s.value) as unknown;
        } catch {
          throw new CliUsageError(`${s.key}:= needs JSON, got ${s.value}`);
        }
        break;
      case '@':
        await addFile(s.key, s.value);
        break;
    }
  }

  const envelope: FetchRequestInput = { url: expandUrl(rawUrl) };
  if (params.length > 0) envelope.params = params;
  if (headers.length > 0) envelope.headers = headers;
  if (o.json !== undefined) {
    try {
      envelope.json = JSON.parse(o.json) as unknown;
    } catch (err) {
      throw new CliUsageError(`--json is not JSON: ${(err as Error).message}`);
    }
  } else if (Object.keys(jsonFields).length > 0) {
    if (files.length > 0 || formFields.length > 0) {
      for (const [k, v] of Object.entries(jsonFields))
        formFields.push([k, typeof v === 'string' ? v : JSON.stringify(v)]);
    } else {
      envelope.json = jsonFields;
    }
  }
  if (formFields.length > 0) envelope.data = formFields;
  if (files.length > 0) envelope.files = files.map((f) => ({ ...f }));
  const hasBody =
    envelope.json !== undefined || envelope.data !== undefined || envelope.files !== undefined;
  envelope.method = method ?? (hasBody ? 'POST' : 'GET');

  if (o.auth !== undefined) {
    const [username, password] = splitPair(
      o.auth.includes(':') ? o.auth : `${o.auth}:`,
      ':',
      '--auth',
    );
    envelope.auth = { type: 'basic', username, password };
  }
  if (o.bearer !== undefined) envelope.auth = { type: 'bearer', token: o.bearer };
  if (o.session !== undefined) envelope.session = o.session;
  const timeout = seconds(o.timeout, '--timeout');
  const total = seconds(o.total, '--total');
  if (timeout !== undefined || total !== undefined) {
    envelope.timeout = {
      ...(timeout === undefined ? {} : { connect: timeout, headers: timeout, read: timeout }),
      ...(total === undefined ? {} : { total }),
    };
  }
  if (o.retries !== undefined) {
    const n = Number(o.retries);
    if (!Number.isInteger(n) || n < 0)
      throw new CliUsageError(`--retries expects a count, got ${o.retries}`);
    envelope.retries = { total: n, allowNonIdempotent: o['retry-any'] === true };
  }
  if (o['no-follow'] === true) envelope.allowRedirects = false;
  if (o['max-redirects'] !== undefined) envelope.maxRedirects = Number(o['max-redirects']);
  if (o.insecure === true || o.ca !== undefined) {
    envelope.tls = { verify: o.insecure !== true };
    if (o.ca !== undefined) {
      try {
        envelope.tls.ca = await readFile(o.ca, 'utf8');
      } catch (err) {
        throw new CliUsageError(`cannot read --ca ${o.ca}: ${(err as Error).message}`);
      }
    }
  }
  if (o.proxy !== undefined) envelope.proxy = o.proxy;
  if (o.as !== undefined) {
    if (!['auto', 'text', 'json', 'base64', 'none'].includes(o.as))
      throw new CliUsageError(`--as expects auto, text, json, base64 or none`);
    envelope.response = { as: o.as as 'auto' };
  }
  // Validate here, so a bad flag is a usage error before anything is sent.
  try {
    parseFetchRequest(envelope);
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }

  const modes = [o.local === true, o.nats !== undefined, o.fetcher !== undefined].filter(
    Boolean,
  ).length;
  if (modes > 1) throw new CliUsageError('choose one of --local, --nats and --fetcher');
  if (o.allow !== undefined && !local) throw new CliUsageError('--allow only applies with --local');
  if (o.allow !== undefined) {
    try {
      parseAllowList(o.allow);
    } catch (err) {
      throw new CliUsageError(`--allow: ${(err as Error).message}`);
    }
  }
  const mode: Mode = local
    ? { kind: 'local', allow: o.allow }
    : o.nats !== undefined
      ? { kind: 'nats', url: o.nats }
      : {
          kind: 'http',
          url: (o.fetcher ?? env.NETLAB_FETCHER_URL ?? 'http://127.0.0.1:8083').replace(/\/$/, ''),
        };
  if (o.output !== undefined && mode.kind === 'nats') {
    throw new CliUsageError('-o streams the body: use HTTP (--fetcher) or --local, not --nats');
  }
  return {
    envelope,
    mode,
    output: o.output,
    progress: o.progress === true,
    print: o.headers === true ? 'headers' : o.body === true ? 'body' : 'auto',
    verbose: o.verbose === true,
    checkStatus: o['check-status'] === true,
  };
}

interface StreamedResponse {
  status: number;
  reason: string;
  url: string;
  headers: Record<string, string | string[]>;
  body: Readable;
  total: number | null;
}

interface Transport {
  fetch(envelope: FetchRequestInput): Promise<FetchResponse>;
  stream(envelope: FetchRequestInput): Promise<StreamedResponse>;
  close(): Promise<void>;
}

function asProblem(value: unknown, fallbackStatus: number): Problem {
  const p = value as Partial<Problem> | undefined;
  if (p !== undefined && typeof p.code === 'string') return p as Problem;
  return toProblem(new Error(`unexpected answer (${fallbackStatus})`));
}

function httpTransport(base: string): Transport {
  const dispatcher = new Agent({ connections: 4 });
  const post = (path: string, envelope: FetchRequestInput) =>
    request(`${base}${path}`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(envelope),
      headersTimeout: 0,
      bodyTimeout: 0,
    }).catch((err: unknown) => {
      throw new CliFailure({
        type: 'urn:netlab:error:cli-unreachable',
        title: 'The fetcher did not answer',
        status: 503,
        detail: `${base}: ${(err as Error).message} (is it running? try --local)`,
        code: 'CLI_FETCHER_UNREACHABLE',
        retryable: true,
      });
    });
  return {
    async fetch(envelope) {
      const res = await post('/fetch', envelope);
      const value: unknown = await res.body.json();
      if (res.statusCode !== 200) throw new CliFailure(asProblem(value, res.statusCode));
      return value as FetchResponse;
    },
    async stream(envelope) {
      const res = await post('/fetch/stream', envelope);
      if (res.headers['x-fetcher-url'] === undefined) {
        throw new CliFailure(
          asProblem(await res.body.json().catch(() => undefined), res.statusCode),
        );
      }
      const length = Number(res.headers['content-length']);
      return {
        status: res.statusCode,
        reason: res.statusText,
        url: String(res.headers['x-fetcher-url']),
        headers: res.headers as Record<string, string | string[]>,
        body: res.body,
        total: Number.isFinite(length) ? length : null,
      };
    },
    close: () => dispatcher.close(),
  };
}

/** Resolves once a TCP connection to the NATS URL's host and port succeeds within the timeout. */
function probeNats(url: string, timeoutS: number): Promise<boolean> {
  let host = '127.0.0.1';
  let port = 4222;
  try {
    const u = new URL(url);
    host = u.hostname.replace(/^\[|\]$/g, '');
    port = Number(u.port) || 4222;
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const socket = createConnection({ host, port, timeout: timeoutS * 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

async function natsTransport(
  url: string,
  timeoutS: number,
  credentials: { user?: string | undefined; password?: string | undefined },
): Promise<Transport> {
  // connectNats waits for a first connection forever (right for a service, which must start while
  // NATS is down); a command line probes first and gives up after a few seconds.
  if (!(await probeNats(url, timeoutS))) {
    throw new CliFailure(
      toProblem(netlabError('NATS_UNAVAILABLE', `No NATS server answered at ${url}.`)),
    );
  }
  const nats = await connectNats({
    servers: [url],
    name: 'netlab-fetch',
    logger: silentLogger(),
    maxPendingBytes: 1 << 20,
    // The lab's nats-server has a user per part (infra/nats); `netlab up` writes the admin's to
    // .lab/nats.env, so `set -a; . .lab/nats.env` before the command is enough.
    ...(credentials.user === undefined ? {} : credentials),
  });
  return {
    async fetch(envelope) {
      let msg;
      try {
        msg = await nats.request(subjects.fetcherFetch, JSON.stringify(envelope), {
          timeoutMs: 120_000,
        });
      } catch (err) {
        throw new CliFailure(toProblem(err));
      }
      const value = msg.json<{ error?: Problem } & FetchResponse>();
      if (value.error !== undefined) throw new CliFailure(value.error);
      return value;
    },
    stream: () => Promise.reject(new CliUsageError('streams need HTTP or --local')),
    close: () => nats.close(),
  };
}

function localTransport(env: CliIo['env'], allow: string | undefined): Transport {
  let config;
  try {
    const source: Record<string, string | undefined> = { ...env };
    if (allow !== undefined)
      source.FETCH_ALLOW = [env.FETCH_ALLOW, allow].filter(Boolean).join(',');
    // Your own files are yours to upload: FETCH_FILES_DIR only guards the service.
    config = parseConfig(configSchema, {
      ...source,
      FETCH_FILES_DIR: source.FETCH_FILES_DIR ?? '/',
    });
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
  const core = createFetcherCore({
    config,
    logger: silentLogger(),
    sessions: createMemorySessionStore({ maxBytes: config.FETCH_SESSION_MAX_BYTES }),
  });
  const wrap = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      throw new CliFailure(toProblem(err));
    }
  };
  return {
    fetch: (envelope) => wrap(core.engine.fetch(parseFetchRequest(envelope), { via: 'cli' })),
    async stream(envelope) {
      const res = await wrap(core.engine.open(parseFetchRequest(envelope), { via: 'cli' }));
      const length = Number(res.headers['content-length']);
      return {
        status: res.status,
        reason: res.reason,
        url: res.url,
        headers: res.headers,
        body: res.body,
        total: !res.decoded && Number.isFinite(length) ? length : null,
      };
    },
    close: () => core.close(),
  };
}

function headerLines(
  status: number,
  reason: string,
  headers: Record<string, string | string[]>,
): string {
  let out = `HTTP/1.1 ${status} ${reason}\n`;
  for (const [k, v] of Object.entries(headers)) {
    for (const value of Array.isArray(v) ? v : [v]) out += `${k}: ${value}\n`;
  }
  return out;
}

function writeBody(io: CliIo, res: FetchResponse): void {
  const b = res.body;
  switch (b.as) {
    case 'json':
      io.stdout.write(`${JSON.stringify(b.json, null, 2)}\n`);
      break;
    case 'text':
      io.stdout.write(b.text.endsWith('\n') || b.text === '' ? b.text : `${b.text}\n`);
      break;
    case 'base64':
      if (io.stdout.isTTY === true) {
        io.stdout.write(
          `+-----------------------------------------+\n| NOTE: binary data not shown in terminal |\n+-----------------------------------------+\n`,
        );
      } else {
        io.stdout.write(Buffer.from(b.base64, 'base64'));
      }
      break;
    case 'none':
      break;
  }
}

async function download(
  io: CliIo,
  cmd: CliCommand,
  transport: Transport,
  file: string,
): Promise<number> {
  const res = await transport.stream(cmd.envelope);
  const showBar = cmd.progress || io.stderr.isTTY === true;
  if (cmd.verbose || cmd.print === 'headers')
    io.stderr.write(`${headerLines(res.status, res.reason, res.headers)}\n`);
  let bytes = 0;
  let last = { at: performance.now(), bytes: 0, rate: 0 };
  const draw = (final: boolean): void => {
    const now = performance.now();
    if (now - last.at >= 250 || final) {
      last = {
        at: now,
        bytes,
        rate: ((bytes - last.bytes) * 1000) / Math.max(1, now - last.at) || last.rate,
      };
    }
    if (showBar)
      io.stderr.write(`\r${renderProgress(bytes, res.total, last.rate)}${final ? '\n' : ''}`);
  };
  const ticker = setInterval(() => draw(false), 250);
  const started = performance.now();
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  try {
    await pipeline(res.body, counter, createWriteStream(file));
  } catch (err) {
    throw new CliFailure(toProblem(isNetlabError(err) ? err : new Error((err as Error).message)));
  } finally {
    clearInterval(ticker);
  }
  const seconds = (performance.now() - started) / 1000;
  if (res.total !== null && showBar) last.rate = bytes / Math.max(seconds, 0.001);
  draw(true);
  io.stderr.write(
    `${res.status} ${res.reason}: saved ${formatBytes(bytes)} to ${file} in ${seconds.toFixed(1)}s\n`,
  );
  return statusExit(cmd, res.status);
}

function statusExit(cmd: CliCommand, status: number): number {
  if (!cmd.checkStatus || status < 300) return 0;
  return Math.floor(status / 100);
}

/** Runs the command line; resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let cmd: CliCommand | 'help';
  try {
    cmd = await parseCliArgs(argv, io.env);
  } catch (err) {
    if (!(err instanceof CliUsageError)) throw err;
    io.stderr.write(`netlab-fetch: ${err.message}\n\n${CLI_USAGE}\n`);
    return 2;
  }
  if (cmd === 'help') {
    io.stdout.write(`${CLI_USAGE}\n`);
    return 0;
  }
  let transport: Transport | undefined;
  try {
    transport =
      cmd.mode.kind === 'local'
        ? localTransport(io.env, cmd.mode.allow)
        : cmd.mode.kind === 'nats'
          ? await natsTransport(
              cmd.mode.url,
              Number(io.env.NETLAB_FETCH_NATS_TIMEOUT) || DEFAULT_NATS_CONNECT_TIMEOUT_S,
              { user: io.env.NATS_USER, password: io.env.NATS_PASSWORD },
            )
          : httpTransport(cmd.mode.url);
    if (cmd.output !== undefined) return await download(io, cmd, transport, cmd.output);
    const res = await transport.fetch(cmd.envelope);
    const tty = io.stdout.isTTY === true;
    const showHeaders =
      cmd.print === 'headers' ||
      cmd.print === 'all' ||
      (cmd.print === 'auto' && tty) ||
      cmd.verbose;
    const showBody = cmd.print !== 'headers';
    if (cmd.verbose) {
      const e = cmd.envelope;
      io.stdout.write(`${e.method ?? 'GET'} ${e.url}\n`);
      for (const h of res.history) io.stdout.write(`${h.status} ${h.reason} ${h.url}\n`);
      io.stdout.write('\n');
    }
    if (showHeaders) io.stdout.write(`${headerLines(res.status, res.reason, res.headers)}\n`);
    if (showBody) writeBody(io, res);
    return statusExit(cmd, res.status);
  } catch (err) {
    if (err instanceof CliUsageError) {
      io.stderr.write(`netlab-fetch: ${err.message}\n`);
      return 2;
    }
    const problem = err instanceof CliFailure ? err.problem : toProblem(err);
    io.stderr.write(`netlab-fetch: ${problem.code}: ${problem.detail ?? problem.title}\n`);
    return 1;
  } finally {
    await transport?.close();
  }
}
