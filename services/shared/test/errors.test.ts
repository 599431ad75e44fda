import { join } from 'node:path';
import { netlabError, sharedErrorCodes, toProblem } from '@netlab/shared';
import { undocumentedErrorCodes } from '@netlab/shared/testing';

describe('error codes', () => {
  it('documents every shared code in the README', () => {
    const readme = join(__dirname, '..', 'README.md');
    expect(undocumentedErrorCodes(Object.keys(sharedErrorCodes), readme)).toEqual([]);
  });

  it('notices an undocumented code', () => {
    const readme = join(__dirname, '..', 'README.md');
    expect(undocumentedErrorCodes(['NO_SUCH_CODE'], readme)).toEqual(['NO_SUCH_CODE']);
  });
});

describe('toProblem', () => {
  it('gives RFC 9457 problem details with the stable code and retryable flag', () => {
    const problem = toProblem(netlabError('NATS_TIMEOUT', 'No reply on x.'), '/api/x');
    expect(problem).toEqual({
      type: 'urn:netlab:error:nats-timeout',
      title: 'No reply over NATS within the timeout',
      status: 504,
      detail: 'No reply on x.',
      instance: '/api/x',
      code: 'NATS_TIMEOUT',
      retryable: true,
    });
  });

  it('hides the message of an unexpected error behind INTERNAL', () => {
    const problem = toProblem(new Error('password=hunter2 at db.ts:12'));
    expect(problem.code).toBe('INTERNAL');
    expect(problem.status).toBe(500);
    expect(JSON.stringify(problem)).not.toContain('hunter2');
  });
});
