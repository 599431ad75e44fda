import type { ServerResponse } from 'node:http';

/**
 * Every error code the shared runtime can raise. Each one is documented in services/shared/README.md
 * ("Error codes"); test/errors.test.ts fails when one is not. Services keep their own table in the
 * same shape and extend {@link NetlabError}.
 */
export const sharedErrorCodes = {
  CONFIG_INVALID: {
    httpStatus: 500,
    retryable: false,
    title: 'Configuration is invalid',
  },
  NATS_BUFFER_FULL: {
    httpStatus: 503,
    retryable: true,
    title: 'NATS is disconnected and the publish buffer is full',
  },
  NATS_TIMEOUT: {
    httpStatus: 504,
    retryable: true,
    title: 'No reply over NATS within the timeout',
  },
  NATS_NO_RESPONDERS: {
    httpStatus: 503,
    retryable: true,
    title: 'No service is listening on the NATS subject',
  },
  NATS_UNAVAILABLE: {
    httpStatus: 503,
    retryable: true,
    title: 'NATS is not connected',
  },
  SHUTTING_DOWN: {
    httpStatus: 503,
    retryable: true,
    title: 'The instance is shutting down',
  },
  NOT_FOUND: {
    httpStatus: 404,
    retryable: false,
    title: 'Not found',
  },
  INTERNAL: {
    httpStatus: 500,
    retryable: false,
    title: 'Internal error',
  },
} as const satisfies Record<string, ErrorCodeSpec>;

export interface ErrorCodeSpec {
  readonly httpStatus: number;
  readonly retryable: boolean;
  readonly title: string;
}

export type SharedErrorCode = keyof typeof sharedErrorCodes;

/** An error with a stable code, an HTTP status and whether trying again may help. */
export class NetlabError extends Error {
  readonly code: string;
  readonly httpStatus: number;
  readonly retryable: boolean;
  readonly title: string;

  constructor(
    spec: ErrorCodeSpec & { code: string },
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.name = 'NetlabError';
    this.code = spec.code;
    this.httpStatus = spec.httpStatus;
    this.retryable = spec.retryable;
    this.title = spec.title;
  }
}

/** Builds a {@link NetlabError} from the shared table. */
export function netlabError(
  code: SharedErrorCode,
  detail: string,
  options?: { cause?: unknown },
): NetlabError {
  return new NetlabError({ code, ...sharedErrorCodes[code] }, detail, options);
}

export function isNetlabError(err: unknown): err is NetlabError {
  return err instanceof NetlabError;
}

/** RFC 9457 problem details, with netlab's stable `code` and `retryable` extension members. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: string;
  retryable: boolean;
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * Turns any thrown value into problem details. Unknown errors become INTERNAL without their
 * message, so that internals never leak to clients; the caller logs the original.
 */
export function toProblem(err: unknown, instance?: string): Problem {
  const known = isNetlabError(err) ? err : netlabError('INTERNAL', 'An unexpected error occurred.');
  const problem: Problem = {
    type: `urn:netlab:error:${known.code.toLowerCase().replaceAll('_', '-')}`,
    title: known.title,
    status: known.httpStatus,
    detail: known.message,
    code: known.code,
    retryable: known.retryable,
  };
  if (instance !== undefined) problem.instance = instance;
  return problem;
}

/**
 * The headers of a problem response whose body is `body`, as the flat [name, value, …] list
 * writeHead takes as is (node:http's ServerResponse and the fast path's FastResponse alike);
 * callers push their own (retry-after, connection, x-request-id) after these.
 */
export function problemHeaders(body: string): string[] {
  return [
    'content-type',
    PROBLEM_CONTENT_TYPE,
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
  ];
}

/** Writes problem details as the whole response. */
export function sendProblem(res: ServerResponse, err: unknown, instance?: string): void {
  const problem = toProblem(err, instance);
  const body = JSON.stringify(problem);
  res.writeHead(problem.status, problemHeaders(body));
  res.end(body);
}
