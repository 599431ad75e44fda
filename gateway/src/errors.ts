import { NetlabError, type ErrorCodeSpec } from '@netlab/shared';

/**
 * The gateway's stable error codes, each documented in README.md ("Error codes"); a unit test
 * fails when one is missing there. Every one of them reaches clients as problem+json.
 */
export const gatewayErrorCodes = {
  GATEWAY_NO_ROUTE: {
    httpStatus: 404,
    retryable: false,
    title: 'No route matches the request',
  },
  GATEWAY_NO_UPSTREAM: {
    httpStatus: 503,
    retryable: true,
    title: 'No healthy upstream instance',
  },
  GATEWAY_UPSTREAM_UNREACHABLE: {
    httpStatus: 502,
    retryable: true,
    title: 'The upstream refused or reset the connection',
  },
  GATEWAY_UPSTREAM_BAD_RESPONSE: {
    httpStatus: 502,
    retryable: false,
    title: 'The upstream sent an invalid response',
  },
  GATEWAY_UPSTREAM_TIMEOUT: {
    httpStatus: 504,
    retryable: true,
    title: 'The upstream did not answer in time',
  },
  GATEWAY_BAD_REQUEST: {
    httpStatus: 400,
    retryable: false,
    title: 'Malformed request',
  },
  GATEWAY_BAD_PATH: {
    httpStatus: 400,
    retryable: false,
    title: 'The request path is not acceptable',
  },
  GATEWAY_HEADERS_TOO_LARGE: {
    httpStatus: 431,
    retryable: false,
    title: 'Request header fields too large',
  },
  GATEWAY_BODY_TOO_LARGE: {
    httpStatus: 413,
    retryable: false,
    title: 'Request body too large',
  },
  GATEWAY_REQUEST_TIMEOUT: {
    httpStatus: 408,
    retryable: true,
    title: 'The request was not received in time',
  },
  GATEWAY_RATE_LIMITED: {
    httpStatus: 429,
    retryable: true,
    title: 'Too many requests from this client',
  },
  GATEWAY_METHOD_NOT_ALLOWED: {
    httpStatus: 405,
    retryable: false,
    title: 'Method not allowed',
  },
  GATEWAY_DASHBOARD_BUSY: {
    httpStatus: 503,
    retryable: true,
    title: 'Too many dashboards are open',
  },
  GATEWAY_ROUTES_INVALID: {
    httpStatus: 500,
    retryable: false,
    title: 'The route table is invalid',
  },
} as const satisfies Record<string, ErrorCodeSpec>;

export type GatewayErrorCode = keyof typeof gatewayErrorCodes;

export class GatewayError extends NetlabError {
  constructor(code: GatewayErrorCode, detail: string, options?: { cause?: unknown }) {
    super({ code, ...gatewayErrorCodes[code] }, detail, options);
    this.name = 'GatewayError';
  }
}

export function gatewayError(
  code: GatewayErrorCode,
  detail: string,
  options?: { cause?: unknown },
): GatewayError {
  return new GatewayError(code, detail, options);
}
