import { join } from 'node:path';
import { toProblem } from '@netlab/shared';
import { undocumentedErrorCodes } from '@netlab/shared/testing';
import { rejectionLine, TcpEchoError, tcpEchoErrorCodes } from '../src/errors';

describe('error codes', () => {
  it('documents every code in the README', () => {
    const readme = join(__dirname, '..', 'README.md');
    expect(undocumentedErrorCodes(Object.keys(tcpEchoErrorCodes), readme)).toEqual([]);
  });

  it('gives problem details with the stable code', () => {
    const problem = toProblem(new TcpEchoError('TCP_ECHO_CLIENT_TIMEOUT', 'Nothing came back.'));
    expect(problem).toMatchObject({
      code: 'TCP_ECHO_CLIENT_TIMEOUT',
      status: 504,
      retryable: true,
      detail: 'Nothing came back.',
    });
  });

  it('makes the refusal one line that starts with its code', () => {
    const line = rejectionLine(5);
    expect(line.startsWith('ERR TCP_ECHO_TOO_MANY_CONNECTIONS ')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
  });
});
