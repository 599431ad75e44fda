import { NetlabError, type ErrorCodeSpec } from '@netlab/shared';

/**
 * Every error code the fetcher raises, each documented in README.md ("Error codes");
 * test/errors.test.ts fails when one is not. Upstream problems are 502/504, the caller's mistakes
 * 4xx, the fetcher's own limits 429/503 with Retry-After.
 */
export const fetcherErrorCodes = {
  FETCH_INVALID_REQUEST: {
    httpStatus: 400,
    retryable: false,
    title: 'The fetch request is invalid',
  },
  FETCH_UNSUPPORTED_MEDIA_TYPE: {
    httpStatus: 415,
    retryable: false,
    title: 'The fetch request must be application/json',
  },
  FETCH_METHOD_NOT_ALLOWED: {
    httpStatus: 405,
    retryable: false,
    title: 'Method not allowed on this path',
  },
  FETCH_REQUEST_TOO_LARGE: {
    httpStatus: 413,
    retryable: false,
    title: 'The fetch request is larger than FETCH_MAX_REQUEST_BYTES',
  },
  FETCH_SCHEME_DENIED: {
    httpStatus: 400,
    retryable: false,
    title: 'Only http and https URLs are fetched',
  },
  FETCH_DESTINATION_DENIED: {
    httpStatus: 403,
    retryable: false,
    title: 'The destination address is not allowed',
  },
  FETCH_FILE_DENIED: {
    httpStatus: 403,
    retryable: false,
    title: 'The file is outside FETCH_FILES_DIR',
  },
  FETCH_FILE_NOT_FOUND: {
    httpStatus: 400,
    retryable: false,
    title: 'The file to upload does not exist',
  },
  FETCH_DNS_FAILED: {
    httpStatus: 502,
    retryable: true,
    title: 'The host name could not be resolved',
  },
  FETCH_CONNECT_FAILED: {
    httpStatus: 502,
    retryable: true,
    title: 'Could not connect to the upstream',
  },
  FETCH_CONNECT_TIMEOUT: {
    httpStatus: 504,
    retryable: true,
    title: 'Connecting to the upstream timed out',
  },
  FETCH_HEADERS_TIMEOUT: {
    httpStatus: 504,
    retryable: true,
    title: 'The upstream sent no response headers in time',
  },
  FETCH_READ_TIMEOUT: {
    httpStatus: 504,
    retryable: true,
    title: 'The upstream stopped sending the body',
  },
  FETCH_DEADLINE_EXCEEDED: {
    httpStatus: 504,
    retryable: true,
    title: 'The fetch did not finish within its total deadline',
  },
  FETCH_TLS_ERROR: {
    httpStatus: 502,
    retryable: false,
    title: 'The TLS handshake with the upstream failed',
  },
  FETCH_PROXY_ERROR: {
    httpStatus: 502,
    retryable: true,
    title: 'The proxy refused or failed the request',
  },
  FETCH_UPSTREAM_ERROR: {
    httpStatus: 502,
    retryable: true,
    title: 'The upstream closed the connection or broke the protocol',
  },
  FETCH_UPSTREAM_STATUS: {
    httpStatus: 502,
    retryable: false,
    title: 'The upstream answered a download with an error status',
  },
  FETCH_TOO_MANY_REDIRECTS: {
    httpStatus: 502,
    retryable: false,
    title: 'Too many redirects',
  },
  FETCH_RESPONSE_TOO_LARGE: {
    httpStatus: 502,
    retryable: false,
    title: 'The response body is larger than the allowed size',
  },
  FETCH_TOO_LARGE_FOR_NATS: {
    httpStatus: 413,
    retryable: false,
    title: 'The response is too large for a NATS reply: use POST /fetch/stream or POST /downloads',
  },
  FETCH_DECODE_ERROR: {
    httpStatus: 502,
    retryable: false,
    title: 'The response body could not be decoded',
  },
  FETCH_HOST_BUSY: {
    httpStatus: 429,
    retryable: true,
    title: 'Too many fetches to this host are running or queued',
  },
  FETCH_BUSY: {
    httpStatus: 503,
    retryable: true,
    title: 'Too many fetches are running or queued',
  },
  FETCH_SESSION_UNAVAILABLE: {
    httpStatus: 503,
    retryable: true,
    title: 'Sessions need NATS, which is not connected',
  },
  FETCH_SESSION_CONFLICT: {
    httpStatus: 409,
    retryable: true,
    title: 'The session changed concurrently too many times',
  },
  FETCH_SESSION_TOO_LARGE: {
    httpStatus: 413,
    retryable: false,
    title: 'The session cookie jar is larger than FETCH_SESSION_MAX_BYTES',
  },
  FETCH_DOWNLOADS_FULL: {
    httpStatus: 503,
    retryable: true,
    title: 'FETCH_MAX_DOWNLOADS downloads are already running',
  },
  FETCH_DOWNLOAD_NOT_FOUND: {
    httpStatus: 404,
    retryable: false,
    title: 'No such download',
  },
  FETCH_DOWNLOAD_CANCELLED: {
    httpStatus: 499,
    retryable: false,
    title: 'The download was cancelled',
  },
  FETCH_CLIENT_CLOSED: {
    httpStatus: 499,
    retryable: false,
    title: 'The caller went away before the fetch finished',
  },
} as const satisfies Record<string, ErrorCodeSpec>;

export type FetcherErrorCode = keyof typeof fetcherErrorCodes;

/** A fetcher error; `retryAfterS` becomes a Retry-After header where one makes sense. */
export class FetcherError extends NetlabError {
  override readonly code: FetcherErrorCode;
  readonly retryAfterS: number | undefined;

  constructor(
    code: FetcherErrorCode,
    detail: string,
    options?: { cause?: unknown; retryAfterS?: number },
  ) {
    super({ code, ...fetcherErrorCodes[code] }, detail, options);
    this.name = 'FetcherError';
    this.code = code;
    this.retryAfterS = options?.retryAfterS;
  }
}

export function fetcherError(
  code: FetcherErrorCode,
  detail: string,
  options?: { cause?: unknown; retryAfterS?: number },
): FetcherError {
  return new FetcherError(code, detail, options);
}

export function isFetcherError(err: unknown): err is FetcherError {
  return err instanceof FetcherError;
}
