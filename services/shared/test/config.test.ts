import { z } from 'zod';
import { argvToEnv, commonEnv, ConfigError, env, loadConfig, parseConfig } from '@netlab/shared';

const schema = z.object({
  ...commonEnv(8081),
  STATIC_ROOT: env.string(),
  CACHE_MAX: env.bytes().default(1024),
  IDLE_TIMEOUT: env.duration().default(30_000),
  LISTING: env.boolean().default(false),
});

function issuesOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('applies defaults and parses every form into typed values', () => {
    const config = parseConfig(schema, {
      STATIC_ROOT: '/srv',
      CACHE_MAX: '64KiB',
      IDLE_TIMEOUT: '2m',
      LISTING: 'yes',
      NATS_URL: 'nats://127.0.0.1:4222, nats://10.0.0.2:4222',
    });
    expect(config).toMatchObject({
      HOST: '0.0.0.0',
      PORT: 8081,
      LOG_LEVEL: 'info',
      STATIC_ROOT: '/srv',
      CACHE_MAX: 65536,
      IDLE_TIMEOUT: 120_000,
      LISTING: true,
      NATS_URL: ['nats://127.0.0.1:4222', 'nats://10.0.0.2:4222'],
      SHUTDOWN_GRACE: 10_000,
    });
  });

  it('reports every bad variable at once, naming it, its value and the accepted form', () => {
    const err = issuesOf(() =>
      parseConfig(schema, { PORT: '70000', LOG_LEVEL: 'loud', CACHE_MAX: '12 apples' }),
    );
    expect(err.code).toBe('CONFIG_INVALID');
    const byVariable = Object.fromEntries(err.issues.map((i) => [i.variable, i]));
    expect(Object.keys(byVariable).sort()).toEqual([
      'CACHE_MAX',
      'LOG_LEVEL',
      'PORT',
      'STATIC_ROOT',
    ]);
    expect(byVariable.PORT!.message).toBe('expected a port number from 0 to 65535');
    expect(byVariable.STATIC_ROOT!.message).toBe('is required; expected a non-empty string');
    expect(err.message).toContain('PORT="70000": expected a port number from 0 to 65535');
    expect(err.message).toContain('LOG_LEVEL="loud": expected one of fatal, error, warn');
    expect(err.message).toContain('STATIC_ROOT=(unset): is required');
  });

  it('treats an empty variable as unset, as docker compose writes them', () => {
    const config = parseConfig(schema, { STATIC_ROOT: '/srv', PORT: '', NATS_URL: '' });
    expect(config.PORT).toBe(8081);
    expect(config.NATS_URL).toBeUndefined();
  });

  it('rejects NATS URLs of another scheme', () => {
    const err = issuesOf(() =>
      parseConfig(schema, { STATIC_ROOT: '/', NATS_URL: 'http://x:4222' }),
    );
    expect(err.issues[0]).toMatchObject({ variable: 'NATS_URL', value: 'http://x:4222' });
  });

  it('returns a deeply frozen object', () => {
    const config = parseConfig(schema, { STATIC_ROOT: '/srv', NATS_URL: 'nats://a:1' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.NATS_URL)).toBe(true);
  });

  it.each([
    ['250', 250],
    ['250ms', 250],
    ['1.5s', 1500],
    ['1h', 3_600_000],
  ])('reads the duration %s as %d ms', (raw, ms) => {
    expect(parseConfig(z.object({ D: env.duration() }), { D: raw }).D).toBe(ms);
  });

  it.each([
    ['65536', 65536],
    ['64KiB', 65536],
    ['1MiB', 1_048_576],
    ['1mb', 1_000_000],
  ])('reads the size %s as %d bytes', (raw, bytes) => {
    expect(parseConfig(z.object({ B: env.bytes() }), { B: raw }).B).toBe(bytes);
  });
});

describe('argvToEnv', () => {
  const spec = {
    positionals: ['PORT'],
    options: {
      root: { env: 'STATIC_ROOT', type: 'string' as const, short: 'r' },
      listing: { env: 'LISTING', type: 'boolean' as const },
    },
    usage: 'usage: netlab-static [port] [--root DIR] [--listing]',
  };

  it('maps positionals and flags onto variable names, like python3 -m http.server 8000', () => {
    expect(argvToEnv(['8000', '-r', '/srv', '--listing'], spec)).toEqual({
      PORT: '8000',
      STATIC_ROOT: '/srv',
      LISTING: 'true',
    });
  });

  it('lets flags win over the environment when merged after it', () => {
    const merged = { STATIC_ROOT: '/env', PORT: '9', ...argvToEnv(['8000'], spec) };
    expect(parseConfig(schema, merged).PORT).toBe(8000);
  });

  it('reports unknown flags and extra arguments with the usage', () => {
    expect(issuesOf(() => argvToEnv(['--nope'], spec)).usage).toBe(spec.usage);
    expect(issuesOf(() => argvToEnv(['1', '2'], spec)).issues[0]!.message).toBe(
      'expected at most 1 positional argument(s)',
    );
  });
});

describe('loadConfig', () => {
  const exitThrows = jest.fn((code: number): never => {
    throw new Error(`exit ${code}`);
  });

  it('merges argv over the environment and reports bad flags with the usage, exiting 2', () => {
    const argv = {
      spec: { positionals: ['PORT'], usage: 'usage: demo [port]' },
      args: ['8000'],
    };
    expect(loadConfig(schema, { STATIC_ROOT: '/srv', PORT: '9' }, { argv }).PORT).toBe(8000);
    let written = '';
    expect(() =>
      loadConfig(
        schema,
        { STATIC_ROOT: '/srv' },
        { argv: { ...argv, args: ['--bogus'] }, exit: exitThrows, write: (t) => (written += t) },
      ),
    ).toThrow('exit 2');
    expect(written).toContain("Unknown option '--bogus'");
    expect(written).toContain('usage: demo [port]');
  });

  it('prints every problem and the usage, then exits with code 2', () => {
    let written = '';
    const exit = jest.fn((code: number): never => {
      throw new Error(`exit ${code}`);
    });
    expect(() =>
      loadConfig(
        schema,
        { PORT: 'x' },
        { usage: 'usage: demo', exit, write: (t) => (written += t) },
      ),
    ).toThrow('exit 2');
    expect(exit).toHaveBeenCalledWith(2);
    expect(written).toContain('PORT="x"');
    expect(written).toContain('STATIC_ROOT=(unset)');
    expect(written).toContain('usage: demo');
  });
});
