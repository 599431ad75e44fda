import { NetlabError, type ErrorCodeSpec } from '@netlab/shared';

/**
 * Every error code the static server answers with. Each one is documented in README.md ("Error
 * codes"); test/errors.test.ts fails when one is not.
 */
export const staticErrorCodes = {
  STATIC_BAD_PATH: {
    httpStatus: 400,
    retryable: false,
    title: 'The request path cannot be a file name',
  },
  STATIC_FORBIDDEN_PATH: {
    httpStatus: 403,
    retryable: false,
    title: 'The request path has a dot segment',
  },
  STATIC_ACCESS_DENIED: {
    httpStatus: 403,
    retryable: false,
    title: 'The server may not read this file',
  },
  STATIC_NOT_FOUND: {
    httpStatus: 404,
    retryable: false,
    title: 'Not found',
  },
  STATIC_METHOD_NOT_ALLOWED: {
    httpStatus: 405,
    retryable: false,
    title: 'Only GET and HEAD are allowed',
  },
  STATIC_PRECONDITION_FAILED: {
    httpStatus: 412,
    retryable: false,
    title: 'A precondition of the request does not hold',
  },
  STATIC_RANGE_NOT_SATISFIABLE: {
    httpStatus: 416,
    retryable: false,
    title: 'No requested range overlaps the file',
  },
  STATIC_READ_FAILED: {
    httpStatus: 500,
    retryable: true,
    title: 'The file could not be read',
  },
} as const satisfies Record<string, ErrorCodeSpec>;

export type StaticErrorCode = keyof typeof staticErrorCodes;

export class StaticError extends NetlabError {
  constructor(code: StaticErrorCode, detail: string, options?: { cause?: unknown }) {
    super({ code, ...staticErrorCodes[code] }, detail, options);
    this.name = 'StaticError';
  }
}
