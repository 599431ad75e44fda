import { argvToEnv, ConfigError, parseConfig } from '@netlab/shared';
import { clientArgv, clientSchema } from '../src/client-config';

const parse = (args: string[]) => parseConfig(clientSchema, argvToEnv(args, clientArgv));

function problems(args: string[]): string[] {
  try {
    parse(args);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.variable}: ${i.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('netlab-echo arguments', () => {
  it('defaults to TCP on 127.0.0.1:7001 with a 5 s timeout', () => {
    expect(parse(['hello'])).toMatchObject({
      target: { host: '127.0.0.1', port: 7001 },
      transport: 'tcp',
      message: 'hello',
      count: undefined,
      timeoutMs: 5000,
    });
  });

  it('reads the load flags, short and long', () => {
    expect(
      parse(['-H', '::1', '-p', '7100', '-u', '-n', '1000', '-c', '8', '-s', '1KiB', '--json']),
    ).toMatchObject({
      target: { host: '::1', port: 7100 },
      transport: 'udp',
      count: 1000,
      concurrency: 8,
      size: 1024,
      json: true,
    });
  });

  it('names the flag in every error', () => {
    expect(problems(['--port', 'http', '--count', '0', '--timeout', 'soon']).sort()).toEqual([
      '--count: expected an integer from 1 to 100000000',
      '--port: expected an integer from 1 to 65535',
      '--timeout: expected a duration such as 250ms, 5s, 2m (a bare number is milliseconds)',
    ]);
  });

  it('refuses a message together with --count, and UDP sizes over 65507 bytes', () => {
    expect(problems(['hi', '--count', '5'])).toEqual([
      '--count: load mode sends --size random bytes; give either a message or --count',
    ]);
    expect(problems(['-u', '-n', '5', '-s', '64KiB'])).toEqual([
      '--size: a UDP datagram carries at most 65507 bytes',
    ]);
  });
});
