import { join } from 'node:path';
import { undocumentedErrorCodes } from '@netlab/shared/testing';
import { StaticError, staticErrorCodes } from '../src/errors';

describe('static error codes', () => {
  it('documents every code in the README', () => {
    expect(
      undocumentedErrorCodes(Object.keys(staticErrorCodes), join(__dirname, '..', 'README.md')),
    ).toEqual([]);
  });

  it('carries the status and retryability of its code', () => {
    const err = new StaticError('STATIC_RANGE_NOT_SATISFIABLE', 'no');
    expect(err).toMatchObject({
      code: 'STATIC_RANGE_NOT_SATISFIABLE',
      httpStatus: 416,
      retryable: false,
    });
  });
});
