import { parseConfig } from '@netlab/shared';
import { configSchema, SESSION_BUCKET } from '../src/config';

describe('configSchema', () => {
  it('has safe defaults: deny private destinations, port 8083', () => {
    const c = parseConfig(configSchema, {});
    expect(c.PORT).toBe(8083);
    expect(c.FETCH_ALLOW).toEqual([]);
    expect(c.FETCH_SESSION_BUCKET).toBe(SESSION_BUCKET);
    expect(c.FETCH_MAX_REDIRECTS).toBe(30);
    expect(c.FETCH_NATS_MAX_BODY).toBe(512 * 1024);
  });

  it('reads units and allow-lists', () => {
    const c = parseConfig(configSchema, {
      FETCH_ALLOW: '127.0.0.1:8080-8084,static',
      FETCH_TOTAL_TIMEOUT: '2m',
      FETCH_MAX_INLINE_BYTES: '1MiB',
      FETCH_DNS_SERVERS: '127.0.0.1:5353,[::1]:53',
    });
    expect(c.FETCH_ALLOW.map((e) => e.text)).toEqual(['127.0.0.1:8080-8084', 'static']);
    expect([c.FETCH_TOTAL_TIMEOUT, c.FETCH_MAX_INLINE_BYTES]).toEqual([120_000, 1024 ** 2]);
    expect(c.FETCH_DNS_SERVERS).toEqual(['127.0.0.1:5353', '[::1]:53']);
  });

  it('reports every bad variable at once, by name', () => {
    try {
      parseConfig(configSchema, {
        FETCH_ALLOW: '10.0.0.0/99',
        FETCH_MAX_REDIRECTS: '-1',
        FETCH_NATS_MAX_BODY: '1MiB',
        FETCH_DNS_SERVERS: 'dns.example',
      });
      throw new Error('expected a ConfigError');
    } catch (err) {
      const variables = (err as { issues: { variable: string }[] }).issues
        .map((i) => i.variable)
        .sort();
      expect(variables).toEqual([
        'FETCH_ALLOW',
        'FETCH_DNS_SERVERS',
        'FETCH_MAX_REDIRECTS',
        'FETCH_NATS_MAX_BODY',
      ]);
    }
  });
});
