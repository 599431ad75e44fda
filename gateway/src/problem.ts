import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import {
  PROBLEM_CONTENT_TYPE,
  problemHeaders,
  toProblem,
  type ClientResponse,
} from '@netlab/shared';

export interface ProblemContext {
  requestId?: string | undefined;
  route?: string | undefined;
  upstream?: string | undefined;
  /** Seconds, for 429 and 503. */
  retryAfter?: number | undefined;
  /** Close the connection after the answer (the request body was not read). */
  close?: boolean | undefined;
}

/** problem+json (RFC 9457) with the gateway's extension members: the route and upstream. */
export function problemBody(err: unknown, ctx: ProblemContext): { status: number; body: string } {
  const problem = toProblem(
    err,
    ctx.requestId === undefined ? undefined : `urn:netlab:request:${ctx.requestId}`,
  );
  if (ctx.route !== undefined) problem.route = ctx.route;
  if (ctx.upstream !== undefined) problem.upstream = ctx.upstream;
  return { status: problem.status, body: JSON.stringify(problem) };
}

/** Writes problem details as the whole response; a response already begun is cut instead. */
export function sendGatewayProblem(res: ClientResponse, err: unknown, ctx: ProblemContext): number {
  const { status, body } = problemBody(err, ctx);
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return status;
  }
  const headers = problemHeaders(body);
  if (ctx.requestId !== undefined) headers.push('x-request-id', ctx.requestId);
  if (ctx.retryAfter !== undefined) headers.push('retry-after', String(ctx.retryAfter));
  if (ctx.close === true) headers.push('connection', 'close');
  res.writeHead(status, headers);
  res.end(body);
  return status;
}

/** The same answer written on a raw socket (parser errors, refused upgrades), then closed. */
export function writeRawProblem(socket: Socket, err: unknown, ctx: ProblemContext): number {
  const { status, body } = problemBody(err, ctx);
  if (!socket.writable) {
    socket.destroy();
    return status;
  }
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    `content-type: ${PROBLEM_CONTENT_TYPE}`,
    `content-length: ${Buffer.byteLength(body)}`,
    'cache-control: no-store',
    'connection: close',
  ];
  if (ctx.requestId !== undefined) lines.push(`x-request-id: ${ctx.requestId}`);
  if (ctx.retryAfter !== undefined) lines.push(`retry-after: ${ctx.retryAfter}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  return status;
}
