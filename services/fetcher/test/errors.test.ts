import { join } from 'node:path';
import { toProblem } from '@netlab/shared';
import { undocumentedErrorCodes } from '@netlab/shared/testing';
import { fetcherError, fetcherErrorCodes } from '../src/errors';

describe('fetcher error codes', () => {
  it('are each documented in the README', () => {
    expect(
      undocumentedErrorCodes(Object.keys(fetcherErrorCodes), join(__dirname, '..', 'README.md')),
    ).toEqual([]);
  });

  it('become problem details with their status, code and retryable flag', () => {
    expect(
      toProblem(fetcherError('FETCH_HOST_BUSY', 'busy', { retryAfterS: 2 }), '/fetch'),
    ).toEqual({
      type: 'urn:netlab:error:fetch-host-busy',
      title: fetcherErrorCodes.FETCH_HOST_BUSY.title,
      status: 429,
      detail: 'busy',
      instance: '/fetch',
      code: 'FETCH_HOST_BUSY',
      retryable: true,
    });
  });
});
