import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { gatewayError } from './errors';

/**
 * The request body as the upstream pool reads it, with backpressure, counted against the route's
 * limit. Not the IncomingMessage itself: the limit must be enforced on chunked bodies while they
 * stream, a failed attempt must not destroy the client's request (it still gets its 502), and a
 * reader that was never read from proves that nothing of the body reached the upstream, so the
 * request may go to another instance.
 */
export class BodyReader extends Readable {
  /** True once the upstream side asked for the first byte. */
  started = false;
  received = 0;
  private readonly req: IncomingMessage;
  private readonly limit: number;

  constructor(req: IncomingMessage, limit: number) {
    super({ highWaterMark: 64 * 1024 });
    this.req = req;
    this.limit = limit;
  }

  override _read(): void {
    if (this.started) {
      this.req.resume();
      return;
    }
    this.started = true;
    if (this.req.readableEnded) {
      this.push(null);
      return;
    }
    this.req.on('data', this.onData);
    this.req.on('end', this.onEnd);
    this.req.on('close', this.onClose);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.detach();
    cb(err);
  }

  private detach(): void {
    this.req.off('data', this.onData);
    this.req.off('end', this.onEnd);
    this.req.off('close', this.onClose);
    this.req.pause();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.received += chunk.length;
    if (this.received > this.limit) {
      this.destroy(gatewayError('GATEWAY_BODY_TOO_LARGE', `The body exceeds ${this.limit} bytes.`));
      return;
    }
    if (!this.push(chunk)) this.req.pause();
  };

  private readonly onEnd = (): void => {
    this.push(null);
  };

  private readonly onClose = (): void => {
    if (!this.req.complete) this.destroy(CLIENT_BODY_ABORTED);
  };
}

/** The client went away while sending its body. */
export const CLIENT_BODY_ABORTED = new Error('the client aborted the request body');
