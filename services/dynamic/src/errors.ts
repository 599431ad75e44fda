import { NetlabError, type ErrorCodeSpec } from '@netlab/shared';

/**
 * The dynamic service's stable error codes, each documented in README.md ("Error codes");
 * test/errors.test.ts fails when one is not. Shared codes (NOT_FOUND, NATS_*, SHUTTING_DOWN,
 * INTERNAL) come from @netlab/shared.
 */
export const dynamicErrorCodes = {
  DB_UNAVAILABLE: {
    httpStatus: 503,
    retryable: true,
    title: 'The database is unavailable',
  },
  INVALID_PARAMETERS: {
    httpStatus: 400,
    retryable: false,
    title: 'Invalid path or query parameters',
  },
  MALFORMED_BODY: {
    httpStatus: 400,
    retryable: false,
    title: 'The request body is not valid JSON',
  },
  VALIDATION_FAILED: {
    httpStatus: 422,
    retryable: false,
    title: 'The request body failed validation',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    httpStatus: 415,
    retryable: false,
    title: 'Unsupported content type',
  },
  BODY_TOO_LARGE: {
    httpStatus: 413,
    retryable: false,
    title: 'The request body is too large',
  },
  METHOD_NOT_ALLOWED: {
    httpStatus: 405,
    retryable: false,
    title: 'Method not allowed on this resource',
  },
  STOCK_NOT_FOUND: {
    httpStatus: 404,
    retryable: false,
    title: 'No stock with this code',
  },
  FOCUS_NOT_FOUND: {
    httpStatus: 404,
    retryable: false,
    title: 'This stock is not followed',
  },
  FOCUS_EXISTS: {
    httpStatus: 409,
    retryable: false,
    title: 'This stock is already followed',
  },
  CSRF_FAILED: {
    httpStatus: 403,
    retryable: false,
    title: 'Cross-site request refused',
  },
  QUOTES_SOURCE_UNSET: {
    httpStatus: 503,
    retryable: false,
    title: 'No quotes source is configured',
  },
  QUOTES_FETCH_FAILED: {
    httpStatus: 502,
    retryable: true,
    title: 'The fetcher could not fetch the quotes',
  },
  QUOTES_INVALID: {
    httpStatus: 502,
    retryable: false,
    title: 'The quotes document is invalid',
  },
  STREAM_FULL: {
    httpStatus: 503,
    retryable: true,
    title: 'Too many live-update clients',
  },
} as const satisfies Record<string, ErrorCodeSpec>;

export type DynamicErrorCode = keyof typeof dynamicErrorCodes;

/** One bad field, as listed in a problem's `errors` member. */
export interface FieldError {
  /** Where the field was: `path`, `query` or `body`. */
  readonly in: 'path' | 'query' | 'body';
  /** The field's name (dotted for nested body fields, e.g. `quotes.3.price`). */
  readonly field: string;
  /** RFC 6901 JSON pointer into the body, for body fields. */
  readonly pointer?: string;
  readonly detail: string;
}

/** A {@link NetlabError} of this service, with the extra members a problem may carry. */
export class DynamicError extends NetlabError {
  readonly errors: readonly FieldError[] | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(
    code: DynamicErrorCode,
    detail: string,
    opts: {
      cause?: unknown;
      errors?: readonly FieldError[];
      headers?: Record<string, string>;
    } = {},
  ) {
    super({ code, ...dynamicErrorCodes[code] }, detail, { cause: opts.cause });
    this.name = 'DynamicError';
    this.errors = opts.errors;
    this.headers = opts.headers;
  }
}

export function dynamicError(
  code: DynamicErrorCode,
  detail: string,
  opts?: ConstructorParameters<typeof DynamicError>[2],
): DynamicError {
  return new DynamicError(code, detail, opts);
}
