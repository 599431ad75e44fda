import { createServer, request } from 'node:http';
import { Agent } from 'node:http';
import { advertisedHost, closeHttpServer, httpUrl } from '@netlab/shared';
import { listen } from '@netlab/shared/testing';

describe('closeHttpServer', () => {
  it('lets an in-flight response finish, closes idle keep-alive sockets, and resolves true', async () => {
    let release: () => void = () => undefined;
    const server = createServer((req, res) => {
      if (req.url === '/slow') release = () => res.end('slow done');
      else res.end('fast');
    });
    const { port } = await listen(server, 0, '127.0.0.1');
    const agent = new Agent({ keepAlive: true });
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        request({ port, host: '127.0.0.1', path, agent }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        })
          .on('error', reject)
          .end();
      });
    await get('/fast'); // leaves an idle keep-alive socket behind
    const slow = get('/slow');
    await new Promise((r) => setTimeout(r, 50));
    const closing = closeHttpServer(server, 5000);
    release();
    await expect(slow).resolves.toBe('slow done');
    await expect(closing).resolves.toBe(true);
    agent.destroy();
  });

  it('cuts connections still open after the grace period and resolves false', async () => {
    const server = createServer(() => undefined); // never answers
    const { port } = await listen(server, 0, '127.0.0.1');
    const req = request({ port, host: '127.0.0.1', path: '/' });
    const failed = new Promise((resolve) => req.on('error', resolve));
    req.end();
    await new Promise((r) => setTimeout(r, 50));
    await expect(closeHttpServer(server, 50)).resolves.toBe(false);
    await failed;
  });
});

describe('addresses', () => {
  it('advertises loopback for a wildcard bind and keeps an explicit address', () => {
    expect(advertisedHost('0.0.0.0', undefined)).toBe('127.0.0.1');
    expect(advertisedHost('::', undefined)).toBe('::1');
    expect(advertisedHost('0.0.0.0', 'static-1.lab')).toBe('static-1.lab');
    expect(httpUrl('::1', 8081)).toBe('http://[::1]:8081');
  });
});
