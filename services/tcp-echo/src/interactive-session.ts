import type { Readable, Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { connectTcp, udpSocketFor, type EchoTarget } from './echo-client';
import { TcpEchoError } from './errors';

export interface InteractiveOptions {
  target: EchoTarget;
  transport: 'tcp' | 'udp';
  /** Lines to send (stdin). */
  input: Readable;
  /** Where the echo goes, exactly as it came back (stdout). */
  output: Writable;
  /** Where each line's round-trip time goes (stderr on a terminal); undefined: nowhere. */
  timing: Writable | undefined;
  timeoutMs: number;
}

export interface InteractiveResult {
  sentBytes: number;
  receivedBytes: number;
}

const NEWLINE = 0x0a;

function formatMs(ms: number): string {
  return ms < 10 ? ms.toFixed(3) : ms.toFixed(1);
}

/**
 * Type lines, see echoes: each input line goes to the server and its echo is written as it
 * arrives. TCP: at the end of input the client half-closes and waits for the rest of the echo
 * and the server's FIN (the "recv returns 0" moment), and fails with TCP_ECHO_CLIENT_CLOSED if
 * the server closed first or sent back less than it got. UDP: one datagram per line.
 */
export function runInteractive(opts: InteractiveOptions): Promise<InteractiveResult> {
  return opts.transport === 'tcp' ? tcpSession(opts) : udpSession(opts);
}

async function tcpSession(opts: InteractiveOptions): Promise<InteractiveResult> {
  const socket = await connectTcp(opts.target, opts.timeoutMs);
  const sentAt: bigint[] = [];
  let sentBytes = 0;
  let receivedBytes = 0;
  let inputEnded = false;
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: opts.input, terminal: false, crlfDelay: Infinity });
    lines.on('line', (line) => {
      const data = `${line}\n`;
      sentBytes += Buffer.byteLength(data);
      sentAt.push(process.hrtime.bigint());
      socket.write(data);
    });
    lines.on('close', () => {
      inputEnded = true;
      socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      receivedBytes += chunk.length;
      opts.output.write(chunk);
      for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) {
        const at = sentAt.shift();
        if (at !== undefined && opts.timing !== undefined) {
          const ms = Number(process.hrtime.bigint() - at) / 1e6;
          opts.timing.write(`  round trip ${formatMs(ms)} ms\n`);
        }
      }
    });
    socket.on('error', (err) =>
      reject(
        new TcpEchoError('TCP_ECHO_CLIENT_CLOSED', `The connection failed: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    socket.on('close', () => {
      const complete = inputEnded && receivedBytes === sentBytes;
      lines.close();
      if (complete) resolve({ sentBytes, receivedBytes });
      else
        reject(
          new TcpEchoError(
            'TCP_ECHO_CLIENT_CLOSED',
            `The server closed the connection with ${receivedBytes} of ${sentBytes} bytes echoed${inputEnded ? '' : ', before the end of input'}.`,
          ),
        );
    });
  });
}

async function udpSession(opts: InteractiveOptions): Promise<InteractiveResult> {
  const socket = udpSocketFor(opts.target.host);
  const sentAt: bigint[] = [];
  let sentBytes = 0;
  let receivedBytes = 0;
  socket.on('message', (msg) => {
    receivedBytes += msg.length;
    opts.output.write(msg);
    opts.output.write('\n');
    const at = sentAt.shift();
    if (at !== undefined && opts.timing !== undefined) {
      const ms = Number(process.hrtime.bigint() - at) / 1e6;
      opts.timing.write(`  round trip ${formatMs(ms)} ms\n`);
    }
  });
  const lines = createInterface({ input: opts.input, terminal: false, crlfDelay: Infinity });
  for await (const line of lines) {
    const data = Buffer.from(line);
    sentBytes += data.length;
    sentAt.push(process.hrtime.bigint());
    socket.send(data, opts.target.port, opts.target.host);
  }
  // Give the last datagrams their chance to come back; UDP promises nothing.
  const deadline = Date.now() + opts.timeoutMs;
  while (receivedBytes < sentBytes && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  socket.close();
  if (receivedBytes < sentBytes) {
    throw new TcpEchoError(
      'TCP_ECHO_CLIENT_TIMEOUT',
      `${sentBytes - receivedBytes} of ${sentBytes} bytes did not come back within ${opts.timeoutMs} ms.`,
    );
  }
  return { sentBytes, receivedBytes };
}
