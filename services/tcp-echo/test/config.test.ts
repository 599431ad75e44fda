import { ConfigError, parseConfig } from '@netlab/shared';
import { configSchema } from '../src/config';

function problems(source: Record<string, string>): string[] {
  try {
    parseConfig(configSchema, source);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.variable}: ${i.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('tcp-echo configuration', () => {
  it('has the documented defaults', () => {
    const config = parseConfig(configSchema, {});
    expect(config).toMatchObject({
      runtime: { host: '0.0.0.0', port: 7001, shutdownGraceMs: 10_000 },
      healthPort: 8084,
      maxConnections: 10_000,
      idleTimeoutMs: 300_000,
      writeDeadlineMs: 10_000,
      keepAliveMs: 60_000,
      noDelay: true,
      bufferBytes: 16 * 1024,
      udpMaxDatagram: 8 * 1024,
      udpMaxQueueBytes: 1024 * 1024,
      statsIntervalMs: 10_000,
    });
  });

  it('reads units and 0 for "off"', () => {
    const config = parseConfig(configSchema, {
      PORT: '0',
      HEALTH_PORT: '0',
      MAX_CONNECTIONS: '3',
      IDLE_TIMEOUT: '0',
      WRITE_DEADLINE: '250ms',
      TCP_KEEPALIVE: '0',
      TCP_NODELAY: 'off',
      TCP_BUFFER: '64KiB',
      UDP_MAX_DATAGRAM: '65507',
      STATS_INTERVAL: '1m',
    });
    expect(config).toMatchObject({
      maxConnections: 3,
      idleTimeoutMs: 0,
      writeDeadlineMs: 250,
      keepAliveMs: 0,
      noDelay: false,
      bufferBytes: 65536,
      udpMaxDatagram: 65507,
      statsIntervalMs: 60_000,
    });
  });

  it('reports every bad variable at once, naming it', () => {
    expect(
      problems({
        HEALTH_PORT: 'http',
        MAX_CONNECTIONS: '0',
        TCP_KEEPALIVE: '500ms',
        UDP_MAX_DATAGRAM: '70000',
        IDLE_TIMEOUT: 'soon',
      }).sort(),
    ).toEqual([
      'HEALTH_PORT: expected a port number from 0 to 65535',
      'IDLE_TIMEOUT: expected a duration such as 250ms, 5s, 2m (a bare number is milliseconds)',
      'MAX_CONNECTIONS: expected an integer from 1 to 1000000',
      'TCP_KEEPALIVE: expected 0 (off) or at least 1s (probes count whole seconds)',
      'UDP_MAX_DATAGRAM: expected a size from 1 to 65507 bytes',
    ]);
  });
});
