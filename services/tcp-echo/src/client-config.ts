import { z } from 'zod';
import { env, type ArgvSpec } from '@netlab/shared';
import { DEFAULT_PORT, MAX_UDP_PAYLOAD } from './config';

export const CLIENT_USAGE = `Usage: netlab-echo [options] [message]

Sends MESSAGE to a netlab tcp-echo server, prints the echo and the round-trip time.
Without a message: interactive, each line of stdin is sent and its echo printed; at the end of
input the client half-closes and waits for the rest of the echo.

  -H, --host HOST          server address (default 127.0.0.1; IPv6 literals such as ::1 work)
  -p, --port PORT          server port (default ${DEFAULT_PORT})
  -u, --udp                UDP datagrams instead of a TCP connection
  -n, --count N            load mode: N round trips, then a summary (round trips/s, p50, p99)
  -c, --concurrency C      load mode: C connections (UDP: sockets) in parallel (default 1)
  -s, --size B             load mode: bytes per message (default 64; 512, 4KiB, 1MiB ...)
  -t, --timeout DURATION   per connect and per round trip (default 5s)
      --json               load mode: print the summary as one JSON line
      --help               this text

Exit codes: 0 every echo came back intact; 1 something failed (the code is printed);
2 invalid arguments.`;

/** Flags map onto keys named after themselves, so that an error names the flag the user typed. */
export const clientArgv: ArgvSpec = {
  positionals: ['message'],
  options: {
    host: { env: '--host', type: 'string', short: 'H' },
    port: { env: '--port', type: 'string', short: 'p' },
    udp: { env: '--udp', type: 'boolean', short: 'u' },
    count: { env: '--count', type: 'string', short: 'n' },
    concurrency: { env: '--concurrency', type: 'string', short: 'c' },
    size: { env: '--size', type: 'string', short: 's' },
    timeout: { env: '--timeout', type: 'string', short: 't' },
    json: { env: '--json', type: 'boolean' },
    help: { env: '--help', type: 'boolean' },
  },
  usage: CLIENT_USAGE,
};

export const clientSchema = z
  .object({
    message: z.string().optional(),
    '--host': env.string().default('127.0.0.1'),
    '--port': env.integer(1, 65535).default(DEFAULT_PORT),
    '--udp': env.boolean().default(false),
    '--count': env.integer(1, 100_000_000).optional(),
    '--concurrency': env.integer(1, 10_000).default(1),
    '--size': env
      .bytes()
      .refine((n) => n >= 1 && n <= 64 * 1024 * 1024, 'expected a size from 1 byte to 64MiB')
      .default(64),
    '--timeout': env
      .duration()
      .refine((ms) => ms > 0, 'expected a duration above 0')
      .default(5000),
    '--json': env.boolean().default(false),
    '--help': env.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    if (c.message !== undefined && c['--count'] !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['--count'],
        message: 'load mode sends --size random bytes; give either a message or --count',
      });
    }
    const udpBytes = c.message === undefined ? c['--size'] : Buffer.byteLength(c.message);
    if (c['--udp'] && udpBytes > MAX_UDP_PAYLOAD) {
      ctx.addIssue({
        code: 'custom',
        path: [c.message === undefined ? '--size' : 'message'],
        message: `a UDP datagram carries at most ${MAX_UDP_PAYLOAD} bytes`,
      });
    }
  })
  .transform((c) => ({
    target: { host: c['--host'], port: c['--port'] },
    transport: c['--udp'] ? ('udp' as const) : ('tcp' as const),
    message: c.message,
    count: c['--count'],
    concurrency: c['--concurrency'],
    size: c['--size'],
    timeoutMs: c['--timeout'],
    json: c['--json'],
    help: c['--help'],
  }));

export type ClientConfig = z.output<typeof clientSchema>;
