import { argvToEnv, ConfigError, parseConfig } from '@netlab/shared';
import { argvSpec, staticConfigSchema } from '../src/config';
import { tempDir } from './fixture';

describe('static configuration', () => {
  let root: { dir: string; dispose: () => Promise<void> };
  beforeAll(async () => {
    root = await tempDir();
  });
  afterAll(() => root.dispose());

  const parse = (env: Record<string, string>, args: string[] = []) =>
    parseConfig(staticConfigSchema(root.dir), { ...env, ...argvToEnv(args, argvSpec) });

  it('defaults to port 8081 and the current directory, like python3 -m http.server', () => {
    const c = parse({});
    expect(c.runtime.port).toBe(8081);
    expect(c.server.root).toBe(root.dir);
    expect(c.server).toMatchObject({
      index: 'index.html',
      listing: false,
      dotfiles: false,
      cacheControl: 'public, max-age=0',
      precompressed: true,
      maxRanges: 16,
      cacheMaxBytes: 64 * 1024 * 1024,
      cacheMaxFileBytes: 256 * 1024,
      cacheRevalidateMs: 1000,
      chunkBytes: 256 * 1024,
      sendTimeoutMs: 60_000,
      accessLog: true,
      listingMaxEntries: 10_000,
    });
  });

  it('takes the port from the first argument and flags over env', () => {
    const c = parse({ PORT: '9000', STATIC_ROOT: '/nonexistent', HOST: '::' }, [
      '8000',
      '--root',
      root.dir,
      '--host',
      '127.0.0.1',
      '--listing',
    ]);
    expect(c.runtime.port).toBe(8000);
    expect(c.runtime.host).toBe('127.0.0.1');
    expect(c.server.root).toBe(root.dir);
    expect(c.server.listing).toBe(true);
  });

  it("accepts python's -d/--directory and -b/--bind", () => {
    const c = parse({}, ['-d', root.dir, '-b', '127.0.0.1', '0']);
    expect(c.server.root).toBe(root.dir);
    expect(c.runtime.host).toBe('127.0.0.1');
    expect(c.runtime.port).toBe(0);
  });

  it('resolves a relative root against the current directory', () => {
    expect(parse({ STATIC_ROOT: '.' }).server.root).toBe(root.dir);
  });

  it.each(['eighty', '70000', '65536', '80.5'])('refuses the port %s', (port) => {
    expect(() => parse({}, [port])).toThrow(/PORT=.*expected a port number from 0 to 65535/);
  });

  it('refuses a negative port (it reads as an unknown flag)', () => {
    expect(() => parse({}, ['-1'])).toThrow(ConfigError);
  });

  it('says that a root that does not exist does not exist', () => {
    expect(() => parse({ STATIC_ROOT: '/no/such/dir' })).toThrow(
      /STATIC_ROOT="\/no\/such\/dir": no such directory/,
    );
  });

  it('reports every bad variable at once', () => {
    try {
      parse({ STATIC_MAX_RANGES: '0', STATIC_CHUNK_BYTES: '1', STATIC_INDEX: '../x' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.map((i) => i.variable).sort()).toEqual([
        'STATIC_CHUNK_BYTES',
        'STATIC_INDEX',
        'STATIC_MAX_RANGES',
      ]);
    }
  });

  it('turns STATIC_CACHE_CONTROL=off into no Cache-Control at all', () => {
    expect(parse({ STATIC_CACHE_CONTROL: 'off' }).server.cacheControl).toBeUndefined();
  });

  it('refuses unknown flags and extra arguments with the usage', () => {
    expect(() => parse({}, ['--verbose'])).toThrow(ConfigError);
    expect(() => parse({}, ['8000', '9000'])).toThrow(/at most 1 positional/);
  });
});
