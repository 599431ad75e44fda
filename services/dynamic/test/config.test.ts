import { parseConfig } from '@netlab/shared';
import { configSchema, parseDatabaseUrl, toDynamicConfig } from '../src/config';

describe('configuration', () => {
  it('defaults to port 8082 and an SQLite file under .lab/', () => {
    const config = toDynamicConfig(parseConfig(configSchema, {}), '/repo/infra/db');
    expect(parseConfig(configSchema, {}).PORT).toBe(8082);
    expect(config.database).toEqual({ kind: 'sqlite', path: '.lab/stock.db' });
    expect(config.dbDir).toBe('/repo/infra/db');
    expect(config.pageSize).toBe(20);
    expect(config.bodyLimitBytes).toBe(16 * 1024);
  });

  it('reads sqlite: and mysql:// (or mariadb://) URLs, masking the password for logs', () => {
    expect(parseDatabaseUrl('sqlite:/tmp/x.db')).toEqual({ kind: 'sqlite', path: '/tmp/x.db' });
    expect(parseDatabaseUrl('sqlite:///tmp/x.db')).toEqual({ kind: 'sqlite', path: '/tmp/x.db' });
    expect(parseDatabaseUrl('sqlite::memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });
    expect(parseDatabaseUrl('mysql://netlab:s%40cret@db:3307/stock')).toEqual({
      kind: 'mysql',
      host: 'db',
      port: 3307,
      user: 'netlab',
      password: 's@cret',
      database: 'stock',
      display: 'mysql://netlab:***@db:3307/stock',
    });
    expect(parseDatabaseUrl('mariadb://u@[::1]/stock')).toMatchObject({ host: '::1', port: 3306 });
    for (const bad of ['postgres://x/y', 'mysql://host', 'sqlite:', 'stock.db']) {
      expect(parseDatabaseUrl(bad)).toBeUndefined();
    }
  });

  it('names every bad variable at once', () => {
    expect(() =>
      parseConfig(configSchema, {
        DATABASE_URL: 'postgres://x/y',
        PAGE_SIZE_MAX: '0',
        BODY_LIMIT: 'lots',
      }),
    ).toThrow(
      /DATABASE_URL="postgres:\/\/x\/y": expected sqlite:PATH or mysql:\/\/[\s\S]*PAGE_SIZE_MAX="0"[\s\S]*BODY_LIMIT="lots"/,
    );
  });

  it('never lets the default page size exceed PAGE_SIZE_MAX', () => {
    const config = toDynamicConfig(
      parseConfig(configSchema, { PAGE_SIZE: '50', PAGE_SIZE_MAX: '10' }),
      '/x',
    );
    expect(config.pageSize).toBe(10);
  });
});
