import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Debian's nginx, the physical reference of every HTTP benchmark. */
export const NGINX_BIN = '/usr/sbin/nginx';

/**
 * Writes an nginx configuration for one benchmark run in `dir`: one worker (pinned with the rest
 * of the system under test), in the foreground, sendfile on, access log off, keep-alive without a
 * request cap, every temp path inside `dir`; `http` adds lines to the http block (server blocks).
 * Returns the file's path.
 */
export function writeNginxConf(dir: string, port: number, http: readonly string[]): string {
  const conf = join(dir, `nginx-${port}.conf`);
  const tmp = join(dir, 'nginx-tmp');
  mkdirSync(tmp, { recursive: true });
  writeFileSync(
    conf,
    [
      'worker_processes 1;',
      'daemon off;',
      `pid ${join(dir, `nginx-${port}.pid`)};`,
      `error_log ${join(dir, 'nginx-error.log')} warn;`,
      'events { worker_connections 4096; }',
      'http {',
      '  default_type application/octet-stream;',
      '  sendfile on;',
      '  access_log off;',
      '  keepalive_requests 1000000;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
        (t) => `  ${t}_temp_path ${join(tmp, t)};`,
      ),
      ...http,
      '}',
      '',
    ].join('\n'),
  );
  return conf;
}
