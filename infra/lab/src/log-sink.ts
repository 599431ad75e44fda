import { closeSync, existsSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { styleText } from 'node:util';
import { prettyFactory } from 'pino-pretty';
import { tailLines } from './log-tail';

/**
 * Where the lab's output goes: every line of every process is written raw to
 * `.lab/logs/<part>.log` and pretty-printed to the terminal, prefixed with the instance name.
 * `netlab logs -f` subscribes to the raw lines of one part.
 */
export interface LogSink {
  /** Lines from one instance of a part (or `nats`, or the supervisor itself as `netlab`). */
  write(part: string, instance: string, lines: readonly string[]): void;
  /** Calls `listener` with each new raw line of `part`; returns the unsubscribe function. */
  follow(part: string, listener: (line: string) => void): () => void;
  tail(part: string, lines: number): string[];
  file(part: string): string;
  close(): void;
}

export interface LogSinkOptions {
  dir: string;
  /** The terminal (stdout of `netlab up`). */
  out: { write(text: string): unknown };
  colorize: boolean;
  /** Lines for which this is false go to the file only (nats-server's chatter, for one). */
  showOnTerminal?: (part: string, line: string) => boolean;
}

/**
 * Turns one raw line into terminal text: pino JSON pretty-printed, anything else as it came, each
 * prefixed with the instance that wrote it (from the JSON when it says, else `source`).
 */
export type LinePrinter = (source: string, line: string) => string;

const PREFIX_COLORS = ['cyan', 'magenta', 'yellow', 'green', 'blue', 'red'] as const;

export function createLinePrinter(colorize: boolean): LinePrinter {
  const pretty = prettyFactory({
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    // The prefix names the instance already; pid and service repeat it.
    ignore: 'pid,hostname,service,instance',
    // Several processes share one terminal: one line per entry keeps them apart.
    singleLine: true,
  });
  const colorOf = new Map<string, (typeof PREFIX_COLORS)[number]>();
  let width = 8;
  const prefixOf = (instance: string): string => {
    width = Math.max(width, instance.length);
    const text = `${instance.padEnd(width)} |`;
    if (!colorize) return text;
    let color = colorOf.get(instance);
    if (color === undefined) {
      color = PREFIX_COLORS[colorOf.size % PREFIX_COLORS.length] ?? 'cyan';
      colorOf.set(instance, color);
    }
    return styleText(color, text, { validateStream: false });
  };
  return (source, line) => {
    let instance = source;
    let text = line;
    if (line.startsWith('{')) {
      try {
        const record = JSON.parse(line) as unknown;
        if (record !== null && typeof record === 'object') {
          text = pretty(record).trimEnd();
          if ('instance' in record && typeof record.instance === 'string')
            instance = record.instance;
        }
      } catch {
        // Not JSON after all: shown as it came.
      }
    }
    const prefix = prefixOf(instance);
    return text
      .split('\n')
      .map((l) => `${prefix} ${l.trimEnd()}\n`)
      .join('');
  };
}

export function createLogSink(opts: LogSinkOptions): LogSink {
  mkdirSync(opts.dir, { recursive: true });
  const print = createLinePrinter(opts.colorize);
  const fds = new Map<string, number>();
  const followers = new Map<string, Set<(line: string) => void>>();
  const file = (part: string): string => join(opts.dir, `${part}.log`);
  let closed = false;

  const fdOf = (part: string): number => {
    let fd = fds.get(part);
    if (fd === undefined) {
      // Each `up` starts a fresh file; the previous run's stays one generation as `.log.1`.
      const path = file(part);
      if (existsSync(path)) renameSync(path, `${path}.1`);
      fd = openSync(path, 'a');
      fds.set(part, fd);
    }
    return fd;
  };

  return {
    write(part, instance, lines) {
      if (lines.length === 0) return;
      // Synchronous: the file is always as current as the terminal (see tailLines).
      try {
        if (!closed) writeSync(fdOf(part), `${lines.join('\n')}\n`);
      } catch {
        // A full disk must not take the supervisor down; the terminal still gets the lines.
      }
      let text = '';
      for (const line of lines) {
        if (opts.showOnTerminal?.(part, line) !== false) text += print(instance, line);
      }
      if (text !== '') opts.out.write(text);
      const listeners = followers.get(part);
      if (listeners !== undefined) {
        for (const line of lines) for (const listener of listeners) listener(line);
      }
    },
    follow(part, listener) {
      let listeners = followers.get(part);
      if (listeners === undefined) {
        listeners = new Set();
        followers.set(part, listeners);
      }
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    tail(part, lines) {
      if (!closed) fdOf(part);
      return tailLines(file(part), lines);
    },
    file,
    close() {
      closed = true;
      for (const fd of fds.values()) closeSync(fd);
      fds.clear();
      followers.clear();
    },
  };
}
