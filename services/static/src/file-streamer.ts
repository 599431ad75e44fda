import { close, read } from 'node:fs';
import type { ServerResponse } from 'node:http';

/** A slice of the file to send, inclusive, optionally preceded by bytes of our own. */
export interface StreamPart {
  /** Written before the slice: a multipart/byteranges part header. */
  readonly prefix?: Buffer;
  readonly start: number;
  readonly end: number;
}

export interface FileStreamer {
  /**
   * Streams `parts` of the open file `fd` into `res` (whose head is already written), then
   * `suffix`, then ends it; closes `fd` whatever happens and calls `done` once, with an error when
   * the response could not be completed (the client left, the file shrank, a read failed).
   */
  stream(
    res: ServerResponse,
    fd: number,
    parts: readonly StreamPart[],
    suffix: Buffer | undefined,
    done: (err?: Error) => void,
  ): void;
  /** Buffers waiting in the pool (for tests and metrics). */
  pooled(): number;
}

export interface FileStreamerOptions {
  /** Bytes per read; each connection holds about one such buffer while its socket is busy. */
  chunkBytes: number;
  /** How many idle buffers the pool keeps; more are left to the garbage collector. */
  maxPooled: number;
  /** Counts body bytes handed to the socket (metrics). */
  onBytes?: (n: number) => void;
}

const noop = (): void => undefined;

export class ResponseAbortedError extends Error {
  constructor() {
    super('the client closed the connection before the response was complete');
    this.name = 'ResponseAbortedError';
  }
}

/**
 * Streams file slices with backpressure through a pool of reusable buffers. Compared with
 * `fs.createReadStream(…).pipe(res)` it allocates nothing per chunk: a buffer goes back to the
 * pool when the socket's write callback says the kernel has the bytes (load/bench/static measures
 * the difference). Reads go through the thread pool; the event loop never waits on the disk.
 */
export function createFileStreamer(opts: FileStreamerOptions): FileStreamer {
  const pool: Buffer[] = [];
  const take = (): Buffer => pool.pop() ?? Buffer.allocUnsafeSlow(opts.chunkBytes);
  const give = (buf: Buffer): void => {
    if (pool.length < opts.maxPooled) pool.push(buf);
  };
  const onBytes = opts.onBytes ?? noop;

  return {
    pooled: () => pool.length,
    stream(res, fd, parts, suffix, done) {
      let index = 0;
      let pos = parts[0]?.start ?? 0;
      let prefixSent = false;
      let reading = false;
      let draining = false;
      // A chunk read ahead while the socket was draining, written on 'drain'.
      let parked: Buffer | undefined;
      let parkedBytes = 0;
      let clientGone = false;
      let finished = false;

      const finish = (err?: Error): void => {
        if (finished) return;
        finished = true;
        res.off('close', onClose);
        res.off('drain', onDrain);
        if (parked !== undefined) give(parked);
        parked = undefined;
        close(fd, noop);
        done(err);
      };
      const fail = (err: Error): void => {
        // Content-Length is already promised: the only honest signal left is a cut connection.
        res.destroy(err);
        finish(err);
      };
      function onClose(): void {
        clientGone = true;
        if (!reading) finish(new ResponseAbortedError());
      }
      function waitForDrain(): void {
        draining = true;
        res.once('drain', onDrain);
      }
      function onDrain(): void {
        draining = false;
        if (parked !== undefined) {
          const buf = parked;
          parked = undefined;
          writeChunk(buf, parkedBytes);
        } else if (!reading) {
          step();
        }
        // else: the read in flight writes its chunk when it completes.
      }

      function step(): void {
        for (;;) {
          if (clientGone) return finish(new ResponseAbortedError());
          const part = parts[index];
          if (part === undefined) {
            if (suffix !== undefined) res.write(suffix);
            res.end();
            return finish();
          }
          if (!prefixSent) {
            prefixSent = true;
            if (part.prefix !== undefined && !res.write(part.prefix)) return waitForDrain();
          }
          if (pos > part.end) {
            index += 1;
            prefixSent = false;
            pos = parts[index]?.start ?? 0;
            continue;
          }
          return readChunk(part);
        }
      }

      function writeChunk(buf: Buffer, n: number): void {
        onBytes(n);
        if (res.write(n === buf.length ? buf : buf.subarray(0, n), () => give(buf))) return step();
        waitForDrain();
        // Read ahead while the socket drains, so that the disk read overlaps the network write
        // instead of following it (load/bench/static, 100 MiB download). At most one chunk is
        // parked per response, so memory per connection stays about two chunks.
        const part = parts[index];
        if (part !== undefined && pos <= part.end) readChunk(part);
      }

      function readChunk(part: StreamPart): void {
        const buf = take();
        reading = true;
        read(fd, buf, 0, Math.min(buf.length, part.end - pos + 1), pos, (err, n) => {
          reading = false;
          if (clientGone) {
            give(buf);
            return finish(new ResponseAbortedError());
          }
          if (err !== null) {
            give(buf);
            return fail(err);
          }
          if (n === 0) {
            give(buf);
            return fail(new Error('the file shrank while it was being sent'));
          }
          pos += n;
          if (draining) {
            parked = buf;
            parkedBytes = n;
            return;
          }
          writeChunk(buf, n);
        });
      }

      // The client may have left while the file was being opened: 'close' has fired already.
      if (res.destroyed) return finish(new ResponseAbortedError());
      res.on('close', onClose);
      step();
    },
  };
}
