import { writeSync } from 'node:fs';
import type { Logger, LogLevel } from '@netlab/shared';

/**
 * The access log: one JSON line per request, in the same shape as every pino line of the lab
 * (`level`, `time`, `service`, `instance`, `pid`, `component: "access"`, the fields, `msg`), but
 * built as a string by hand and written in batches, at most one `write` per event-loop turn, like
 * nginx's `access_log … buffer=`. pino's generic serialisation and a timestamp per line cost the
 * proxy about a tenth of its CPU per request; here the fields are known and the time string is
 * made once per millisecond. Lines are written like nginx's `access_log … buffer=64k flush=100ms`:
 * when `batchBytes` are waiting, or `flushMs` after the first line of a batch, so that thousands
 * of requests a second cost a few writes, not one per request. When stdout cannot keep up, lines
 * past `maxPendingBytes` are dropped and counted rather than buffered without bound.
 */
export interface AccessRecord {
  reqId: string | undefined;
  method: string | undefined;
  path: string | undefined;
  status: number;
  route: string | undefined;
  /** The instance that answered. */
  upstream?: string | undefined;
  ms?: number | undefined;
  client?: string | undefined;
  /** The gateway's error code, for requests it refused itself. */
  code?: string | undefined;
  err?: string | undefined;
}

/** Where the proxy sends its access lines. */
export interface AccessSink {
  /** `warn` for failed requests (written whatever ACCESS_LOG says), `info` otherwise. */
  line(level: 'info' | 'warn', record: AccessRecord, msg: string): void;
}

export interface AccessLog extends AccessSink {
  /** Lines dropped because stdout was too slow. */
  dropped(): number;
  /** Writes whatever is pending, synchronously (at exit). */
  flush(): void;
}

export interface AccessLogOptions {
  service: string;
  instance: string;
  level: LogLevel;
  /**
   * Where batches go; stdout by default. A writer that calls `written` once it no longer needs
   * the chunk lets the batch's buffer be reused; one that never calls it gets fresh buffers.
   */
  write?: (chunk: Buffer, written: () => void) => boolean;
  maxPendingBytes?: number;
  /** A batch is written once this much waits (default 64 KiB)... */
  batchBytes?: number;
  /** ...or this long after its first line (default 100 ms). */
  flushMs?: number;
}

const LEVELS: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
};

// Characters JSON needs escaped, and everything past ASCII: the common case, a plain path or
// name, is copied as it is; the rest is escaped to `\uXXXX`, so that every line is ASCII and
// goes out as latin1, without a UTF-8 encoding pass over each batch.
// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;
const NON_ASCII = /[\u007f-\uffff]/g;

const unicodeEscape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s).replace(NON_ASCII, unicodeEscape) : `"${s}"`;
}

/**
 * `,"name":"value"` for a value that needs no escaping by construction: a request id (a checked
 * token or a UUID), a method (a token, llhttp refuses anything else), a peer address.
 */
function plainField(name: string, value: string | undefined): string {
  return value === undefined ? '' : `,"${name}":"${value}"`;
}

/** `,"name":"value"` for a defined string field. */
function field(name: string, value: string | undefined): string {
  return value === undefined ? '' : `,"${name}":${jsonString(value)}`;
}

export function createAccessLog(opts: AccessLogOptions): AccessLog {
  const maxPending = opts.maxPendingBytes ?? 4 * 1024 * 1024;
  const batchBytes = opts.batchBytes ?? 64 * 1024;
  const flushMs = opts.flushMs ?? 100;
  /** Batch buffers whose bytes stdout has taken: reused instead of a new 64 KiB each time. */
  const spare: Buffer[] = [];
  const recycle = (chunk: Buffer): void => {
    // Only whole batches (not a long line's own buffer), and only a few.
    if (chunk.byteOffset === 0 && chunk.buffer.byteLength === batchBytes && spare.length < 4) {
      spare.push(Buffer.from(chunk.buffer, 0, batchBytes));
    }
  };
  const write =
    opts.write ?? ((chunk: Buffer, written: () => void) => process.stdout.write(chunk, written));
  const minLevel = LEVELS[opts.level];
  const base = `${field('service', opts.service)}${field('instance', opts.instance)},"pid":${process.pid},"component":"access"`;
  // Lines are copied into a batch buffer as they are made, so that the strings die young: kept
  // in an array for up to `flushMs`, they would outlive a scavenge or two and burden the old
  // generation (measured: a third of the access log's cost). Batches are reused once written:
  // a fresh 64 KiB buffer every few milliseconds cost the proxy 3% of its throughput.
  let batch: Buffer = Buffer.allocUnsafeSlow(batchBytes);
  let used = 0;
  /** Batches sealed but not written yet (stdout was slow). */
  const sealed: Buffer[] = [];
  let sealedBytes = 0;
  let blocked = false;
  let timer: NodeJS.Timeout | undefined;
  let droppedLines = 0;
  let lastMs = 0;
  let lastTime = '';
  let lastSecond = 0;
  let secondPrefix = '';

  const seal = (): void => {
    if (used === 0) return;
    sealed.push(batch.subarray(0, used));
    sealedBytes += used;
    batch = spare.pop() ?? Buffer.allocUnsafeSlow(batchBytes);
    used = 0;
  };

  const drain = (): void => {
    clearTimeout(timer);
    timer = undefined;
    seal();
    while (!blocked && sealed.length > 0) {
      const chunk = sealed.shift()!;
      sealedBytes -= chunk.length;
      if (!write(chunk, () => recycle(chunk)) && opts.write === undefined) {
        blocked = true;
        process.stdout.once('drain', () => {
          blocked = false;
          drain();
        });
      }
    }
  };

  const push = (line: string): void => {
    if (sealedBytes + used + line.length > maxPending) {
      droppedLines++;
      return;
    }
    if (line.length > batchBytes - used) {
      // The batch is full: out it goes, in this request's turn.
      drain();
      if (line.length > batchBytes) {
        // A line longer than a batch (a 16 KiB path, say) goes as a batch of its own.
        sealed.push(Buffer.from(line, 'latin1'));
        sealedBytes += line.length;
        drain();
        return;
      }
    }
    // Every line is ASCII (see jsonString): one byte per character.
    used += batch.write(line, used, 'latin1');
    if (timer === undefined) {
      timer = setTimeout(drain, flushMs);
      // The exit handler writes what is left; a pending batch keeps no process alive.
      timer.unref();
    }
  };

  const flush = (): void => {
    seal();
    const chunks = sealed.splice(0);
    sealedBytes = 0;
    for (const chunk of chunks) {
      try {
        if (opts.write === undefined) writeSync(1, chunk);
        else opts.write(chunk, () => undefined);
      } catch {
        // stdout is gone: nothing left to tell.
      }
    }
  };
  if (opts.write === undefined) process.once('exit', flush);

  return {
    line(level, r, msg) {
      const n = level === 'warn' ? 40 : 30;
      if (n < minLevel) return;
      const now = Date.now();
      if (now !== lastMs) {
        lastMs = now;
        // ISO 8601 as pino's isoTime writes it; the date and time of day change once a second.
        const second = Math.floor(now / 1000);
        if (second !== lastSecond) {
          lastSecond = second;
          secondPrefix = new Date(second * 1000).toISOString().slice(0, 20);
        }
        const ms = now - second * 1000;
        lastTime = `${secondPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
      }
      push(
        `{"level":${n},"time":"${lastTime}"${base}${plainField('reqId', r.reqId)}${plainField('method', r.method)}${field('path', r.path)},"status":${r.status}${field('route', r.route)}${field('upstream', r.upstream)}${r.ms === undefined ? '' : `,"ms":${r.ms}`}${plainField('client', r.client)}${field('code', r.code)}${field('err', r.err)},"msg":${jsonString(msg)}}\n`,
      );
    },
    dropped: () => droppedLines,
    flush,
  };
}

/** Access lines through an ordinary pino logger (pretty output, tests): one write per line. */
export function loggerAccessSink(logger: Logger): AccessSink {
  return {
    line(level, record, msg) {
      if (level === 'warn') logger.warn(record, msg);
      else logger.info(record, msg);
    },
  };
}
