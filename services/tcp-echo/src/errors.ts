import { NetlabError, type ErrorCodeSpec } from '@netlab/shared';

/**
 * Every code tcp-echo and its client can raise; each one is a row of the README's error table
 * (test/errors.test.ts fails when one is not). The server never writes a code into an echo
 * session: only a connection refused for MAX_CONNECTIONS gets one line, before any echo. The other
 * server codes label disconnects in logs and stats.
 */
export const tcpEchoErrorCodes = {
  TCP_ECHO_TOO_MANY_CONNECTIONS: {
    httpStatus: 503,
    retryable: true,
    title: 'The echo server has MAX_CONNECTIONS sessions open',
  },
  TCP_ECHO_IDLE_TIMEOUT: {
    httpStatus: 408,
    retryable: true,
    title: 'The session was idle for IDLE_TIMEOUT and was closed',
  },
  TCP_ECHO_WRITE_DEADLINE: {
    httpStatus: 504,
    retryable: false,
    title: 'The peer did not read its echo within WRITE_DEADLINE and was disconnected',
  },
  TCP_ECHO_DATAGRAM_TOO_LARGE: {
    httpStatus: 413,
    retryable: false,
    title: 'A UDP datagram was larger than UDP_MAX_DATAGRAM and was dropped',
  },
  TCP_ECHO_CLIENT_TIMEOUT: {
    httpStatus: 504,
    retryable: true,
    title: 'No complete echo arrived within the timeout',
  },
  TCP_ECHO_CLIENT_MISMATCH: {
    httpStatus: 502,
    retryable: false,
    title: 'The echo differs from what was sent',
  },
  TCP_ECHO_CLIENT_CLOSED: {
    httpStatus: 502,
    retryable: true,
    title: 'The server closed the connection before the whole echo arrived',
  },
  TCP_ECHO_CLIENT_CONNECT_FAILED: {
    httpStatus: 503,
    retryable: true,
    title: 'Could not connect to the echo server',
  },
} as const satisfies Record<string, ErrorCodeSpec>;

export type TcpEchoErrorCode = keyof typeof tcpEchoErrorCodes;

export class TcpEchoError extends NetlabError {
  constructor(code: TcpEchoErrorCode, detail: string, options?: { cause?: unknown }) {
    super({ code, ...tcpEchoErrorCodes[code] }, detail, options);
    this.name = 'TcpEchoError';
  }
}

/** The one line a refused connection receives before the server closes it. */
export function rejectionLine(maxConnections: number): string {
  return `ERR TCP_ECHO_TOO_MANY_CONNECTIONS ${maxConnections} connections are open (MAX_CONNECTIONS); try again later\n`;
}
