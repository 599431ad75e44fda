import { join } from 'node:path';
import { undocumentedErrorCodes } from '@netlab/shared/testing';
import { toProblem } from '@netlab/shared';
import { gatewayError, gatewayErrorCodes } from '../src/errors';

describe('gateway error codes', () => {
  it('are all documented in README.md', () => {
    expect(
      undocumentedErrorCodes(Object.keys(gatewayErrorCodes), join(__dirname, '..', 'README.md')),
    ).toEqual([]);
  });

  it('become problem details with their status and code', () => {
    const problem = toProblem(gatewayError('GATEWAY_UPSTREAM_TIMEOUT', 'slow'));
    expect(problem).toMatchObject({
      status: 504,
      code: 'GATEWAY_UPSTREAM_TIMEOUT',
      retryable: true,
      type: 'urn:netlab:error:gateway-upstream-timeout',
      detail: 'slow',
    });
  });
});
