import { writeSync } from 'node:fs';
import { createLogger, type Logger, type LogLevel } from '@netlab/shared';

/**
 * The access log: the same pino JSON lines as every other log line (same service and instance),
 * but written in batches, at most one `write` per event-loop turn, like nginx's
 * `access_log … buffer=`. A synchronous write per request would cost the proxy a system call per
 * request; here a turn that answers 50 requests writes once. When stdout cannot keep up, lines
 * past `maxPendingBytes` are dropped and counted rather than buffered without bound.
 */
export interface AccessLog {
  readonly logger: Logger;
  /** Lines dropped because stdout was too slow. */
  dropped(): number;
  /** Writes whatever is pending, synchronously (at exit). */
  flush(): void;
}

export interface AccessLogOptions {
  service: string;
  instance: string;
  level: LogLevel;
  /** Where batches go; stdout by default. */
  write?: (text: string) => boolean;
  maxPendingBytes?: number;
}

export function createAccessLog(opts: AccessLogOptions): AccessLog {
  const maxPending = opts.maxPendingBytes ?? 4 * 1024 * 1024;
  const write = opts.write ?? ((text: string) => process.stdout.write(text));
  let lines: string[] = [];
  let pendingBytes = 0;
  let blocked = false;
  let scheduled = false;
  let droppedLines = 0;

  const drain = (): void => {
    scheduled = false;
    if (blocked || lines.length === 0) return;
    const text = lines.join('');
    lines = [];
    pendingBytes = 0;
    if (!write(text) && opts.write === undefined) {
      blocked = true;
      process.stdout.once('drain', () => {
        blocked = false;
        drain();
      });
    }
  };

  const destination = {
    write(line: string): void {
      if (pendingBytes + line.length > maxPending) {
        droppedLines++;
        return;
      }
      lines.push(line);
      pendingBytes += line.length;
      if (!scheduled) {
        scheduled = true;
        setImmediate(drain);
      }
    },
  };

  const flush = (): void => {
    if (lines.length === 0) return;
    const text = lines.join('');
    lines = [];
    pendingBytes = 0;
    try {
      if (opts.write === undefined) writeSync(1, text);
      else opts.write(text);
    } catch {
      // stdout is gone: nothing left to tell.
    }
  };
  if (opts.write === undefined) process.once('exit', flush);

  const logger = createLogger({
    service: opts.service,
    instance: opts.instance,
    level: opts.level,
    destination,
  }).child({ component: 'access' });
  return { logger, dropped: () => droppedLines, flush };
}
