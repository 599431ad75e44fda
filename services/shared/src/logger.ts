import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import pino, { type DestinationStream, type Logger } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';
import type { LogLevel } from './config';

export type { Logger } from 'pino';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Credentials never reach the logs, whichever way a header object was logged. */
export const REDACTED_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["proxy-authorization"]',
  'headers["set-cookie"]',
];

export interface LoggerOptions {
  /** The part's name, e.g. `static`; bound on every line as `service`. */
  service: string;
  /** This instance's name, e.g. `static-2`; bound as `instance`. */
  instance: string;
  level?: LogLevel;
  /** Human-readable output for a terminal; JSON otherwise. */
  pretty?: boolean;
  /** Where lines go; stdout by default. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
}

/** The one root logger of a process; everything else takes `logger.child({ component })`. */
export function createLogger(opts: LoggerOptions): Logger {
  const options: pino.LoggerOptions = {
    level: opts.level ?? 'info',
    base: { service: opts.service, instance: opts.instance, pid: process.pid },
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (opts.destination !== undefined) return pino(options, opts.destination);
  if (opts.pretty === true) {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' },
      },
    });
  }
  return pino(options);
}

/** A logger that writes nothing, for tests and for libraries used without one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

const VALID_REQUEST_ID = /^[\w.:@-]{1,128}$/;

/**
 * The request id to use: the caller's `x-request-id` when it is a sane token (so a trace crosses
 * the gateway and the services), a new UUID otherwise (so no one can inject log lines).
 */
export function requestIdOf(headerValue: string | string[] | undefined): string {
  const value = Array.isArray(headerValue) ? headerValue[0] : headerValue;
  return value !== undefined && VALID_REQUEST_ID.test(value) ? value : randomUUID();
}

/**
 * pino-http for an Express app or a plain `http.Server` handler: one line per response, with the
 * request id taken from the request or generated, and echoed in the response header.
 */
export function createHttpLogger(logger: Logger): HttpLogger {
  return pinoHttp({
    logger: logger.child({ component: 'http' }),
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const id = requestIdOf(req.headers[REQUEST_ID_HEADER]);
      res.setHeader(REQUEST_ID_HEADER, id);
      return id;
    },
    customLogLevel: (_req, res, err) => {
      if (err !== undefined || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      return 'info';
    },
    // Probes and scrapes (also under the static server's reserved /-/) would drown the lines
    // that matter.
    autoLogging: { ignore: (req) => /^\/(-\/)?(healthz|readyz|metrics)\b/.test(req.url ?? '') },
  });
}
