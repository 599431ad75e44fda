import { createServer } from 'node:http';
import { createHttpLogger, REQUEST_ID_HEADER, requestIdOf } from '@netlab/shared';
import { captureLogger, listen } from '@netlab/shared/testing';

describe('createLogger', () => {
  it('binds service and instance and redacts credentials in headers', () => {
    const { logger, lines } = captureLogger('static');
    logger
      .child({ component: 'http' })
      .info(
        { req: { headers: { authorization: 'Bearer s3cret', cookie: 'sid=abc', accept: '*/*' } } },
        'request',
      );
    const [line] = lines();
    expect(line).toMatchObject({ service: 'static', instance: 'static-test', component: 'http' });
    const text = JSON.stringify(line);
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('sid=abc');
    expect(text).toContain('[redacted]');
    expect(text).toContain('*/*');
  });
});

describe('requestIdOf', () => {
  it('keeps a sane caller id and replaces anything that could forge log lines', () => {
    expect(requestIdOf('abc-123')).toBe('abc-123');
    expect(requestIdOf(['first', 'second'])).toBe('first');
    expect(requestIdOf('bad\nid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdOf('x'.repeat(200))).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdOf(undefined)).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('createHttpLogger', () => {
  it('echoes the x-request-id it was given, generates one otherwise, and logs it', async () => {
    const { logger, lines } = captureLogger('dynamic');
    const httpLogger = createHttpLogger(logger);
    const server = createServer((req, res) => {
      httpLogger(req, res);
      res.end('ok');
    });
    const { port } = await listen(server, 0, '127.0.0.1');
    try {
      const given = await fetch(`http://127.0.0.1:${port}/x`, {
        headers: { [REQUEST_ID_HEADER]: 'trace-1' },
      });
      expect(given.headers.get(REQUEST_ID_HEADER)).toBe('trace-1');
      const generated = await fetch(`http://127.0.0.1:${port}/y`);
      expect(generated.headers.get(REQUEST_ID_HEADER)).toMatch(/^[0-9a-f-]{36}$/);
      const logged = lines().filter((l) => l.component === 'http');
      expect(logged.map((l) => (l.req as { id: string }).id)).toContain('trace-1');
    } finally {
      server.close();
    }
  });
});
