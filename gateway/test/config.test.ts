import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, parseConfig } from '@netlab/shared';
import { configSchema, gatewaySettings, parseHostPort } from '../src/config';

const parse = (env: Record<string, string>) => parseConfig(configSchema, env);

describe('gateway configuration', () => {
  it('has the documented defaults', () => {
    const env = parse({});
    expect(env).toMatchObject({ PORT: 8080, TCP_PORT: 7000, BALANCER: 'p2c', WORKERS: 1 });
    expect(gatewaySettings(env)).toMatchObject({
      maxHeaderSize: 16 * 1024,
      maxHeaders: 100,
      maxBodySize: 10 * 1024 * 1024,
      healthPaths: { static: '/-/readyz' },
      rateLimit: 0,
      servedByHeader: false,
      accessLog: true,
      streamDrainTimeoutMs: 1000,
      startupWaitMs: 3000,
    });
  });

  it('documents every variable it reads in the README tables', () => {
    const rows = readFileSync(join(__dirname, '..', 'README.md'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('| `'));
    const missing = Object.keys(configSchema.shape).filter(
      (k) => !rows.some((row) => row.split('|')[1]!.includes(`\`${k}\``)),
    );
    expect(missing).toEqual([]);
  });

  it('reads UPSTREAMS as HTTP and TCP instances, repeated names included', () => {
    const env = parse({
      UPSTREAMS:
        'static=http://127.0.0.1:8081, static=http://127.0.0.1:9081,tcp-echo=tcp://127.0.0.1:7001',
    });
    expect(env.UPSTREAMS).toEqual([
      { service: 'static', http: 'http://127.0.0.1:8081', tcp: undefined },
      { service: 'static', http: 'http://127.0.0.1:9081', tcp: undefined },
      { service: 'tcp-echo', http: undefined, tcp: '127.0.0.1:7001' },
    ]);
  });

  it('reports every bad variable at once, by name', () => {
    let error: unknown;
    try {
      parse({
        UPSTREAMS: 'static',
        TCP_PORT: 'seven',
        TRUSTED_PROXIES: '10.0.0.0/33',
        HEALTH_PATHS: 'static=readyz',
        WORKERS: '0',
        BALANCER: 'random',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.variable).sort()).toEqual([
      'BALANCER',
      'HEALTH_PATHS',
      'TCP_PORT',
      'TRUSTED_PROXIES',
      'UPSTREAMS',
      'WORKERS',
    ]);
  });

  it('refuses a headers timeout longer than the request timeout', () => {
    expect(() => parse({ HEADERS_TIMEOUT: '20s', REQUEST_TIMEOUT: '10s' })).toThrow(
      /HEADERS_TIMEOUT.*must not exceed REQUEST_TIMEOUT/,
    );
  });

  it('takes TCP_PORT=off, WORKERS=auto, trusted networks and sizes with units', () => {
    const env = parse({
      TCP_PORT: 'off',
      WORKERS: 'auto',
      TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1, ::1',
      MAX_BODY_SIZE: '1GiB',
    });
    expect(env.TCP_PORT).toBe('off');
    expect(env.WORKERS).toBeGreaterThanOrEqual(1);
    expect(env.TRUSTED_PROXIES).toEqual([
      { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '127.0.0.1', prefix: 32, family: 'ipv4' },
      { address: '::1', prefix: 128, family: 'ipv6' },
    ]);
    expect(env.MAX_BODY_SIZE).toBe(1024 ** 3);
  });

  it('has the dashboard defaults and resolves its results folder', () => {
    expect(gatewaySettings(parse({})).dashboard).toEqual({
      enabled: true,
      windowSeconds: 300,
      pollIntervalMs: 2000,
      pollTimeoutMs: 1000,
      pollMaxBytes: 1024 * 1024,
      maxClients: 32,
      maxEvents: 200,
      clientBufferBytes: 1024 * 1024,
      natsMonitorUrl: undefined,
      resultsDir: join(__dirname, '..', '..', 'load', 'results'),
    });
    const set = gatewaySettings(
      parse({
        DASHBOARD: 'false',
        DASHBOARD_WINDOW: '2m',
        DASHBOARD_RESULTS_DIR: 'some/dir',
        NATS_MONITOR_URL: 'http://127.0.0.1:8222',
      }),
    ).dashboard;
    expect(set).toMatchObject({
      enabled: false,
      windowSeconds: 120,
      resultsDir: resolve('some/dir'),
      natsMonitorUrl: 'http://127.0.0.1:8222',
    });
  });

  it('refuses a dashboard window outside 10s–1h, a poll under 100ms and a non-HTTP monitor URL', () => {
    let error: unknown;
    try {
      parse({ NATS_MONITOR_URL: 'nats://127.0.0.1:4222', DASHBOARD_MAX_CLIENTS: '0' });
    } catch (err) {
      error = err;
    }
    expect((error as ConfigError).issues.map((i) => i.variable).sort()).toEqual([
      'DASHBOARD_MAX_CLIENTS',
      'NATS_MONITOR_URL',
    ]);
    try {
      parse({ DASHBOARD_WINDOW: '5s', DASHBOARD_POLL_INTERVAL: '10ms' });
    } catch (err) {
      error = err;
    }
    expect((error as ConfigError).issues.map((i) => i.variable).sort()).toEqual([
      'DASHBOARD_POLL_INTERVAL',
      'DASHBOARD_WINDOW',
    ]);
    expect(() => parse({ DASHBOARD_WINDOW: '2h' })).toThrow(/DASHBOARD_WINDOW/);
  });

  it('parses host:port with bracketed IPv6', () => {
    expect(parseHostPort('127.0.0.1:7001')).toEqual({ host: '127.0.0.1', port: 7001 });
    expect(parseHostPort('[::1]:7001')).toEqual({ host: '::1', port: 7001 });
    expect(parseHostPort('echo:0')).toBeUndefined();
    expect(parseHostPort('::1:7001')).toBeUndefined();
  });
});
