import { mkdir, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { rawGet, startStatic, tempDir, writeTree, type RunningStatic } from './fixture';

// A generated path-traversal corpus: dot-dot sequences at several depths in every spelling we
// know of (plain, percent-encoded, double-encoded, overlong UTF-8, backslashes, `....//`, `..;/`,
// NUL), absolute and Windows-style paths, aimed at a secret beside the root, a secret in a sibling
// directory whose name starts like the root's (`www` / `www-secret`), and /etc/passwd.

const SECRET = 'SECRET-BESIDE-THE-ROOT-7f3a';
const SIBLING_SECRET = 'SECRET-IN-THE-SIBLING-91c2';

const DOT_DOT = [
  '../',
  '..%2f',
  '..%2F',
  '%2e%2e/',
  '%2e%2e%2f',
  '%2E%2E%2F',
  '.%2e/',
  '%2e./',
  '%252e%252e%252f',
  '..%252f',
  '..%5c',
  '..%5C',
  '..\\',
  '%2e%2e%5c',
  '%c0%ae%c0%ae/',
  '%c0%ae%c0%ae%c0%af',
  '..%c0%af',
  '..%c1%9c',
  '%e0%80%ae%e0%80%ae/',
  '%uff0e%uff0e/',
  '....//',
  '...//',
  '..;/',
  '..%00/',
  '%00../',
  '..%0d%0a/',
  './../',
  './/..//',
];

function corpus(wwwName: string, parent: string): string[] {
  const targets = ['secret.txt', `${wwwName}-secret/secret.txt`, 'etc/passwd'];
  const payloads = new Set<string>();
  for (const seq of DOT_DOT) {
    for (const depth of [1, 2, 4]) {
      for (const target of targets) {
        payloads.add(`/${seq.repeat(depth)}${target}`);
      }
      payloads.add(`/sub/${seq.repeat(depth + 1)}secret.txt`);
    }
  }
  for (const p of [
    '/etc/passwd',
    '//etc/passwd',
    '///etc/passwd',
    '/%2fetc%2fpasswd',
    '/%2F%2Fetc%2Fpasswd',
    `/${parent.slice(1)}/secret.txt`,
    `//${parent.slice(1)}/secret.txt`,
    `/%2f${parent.slice(1)}/secret.txt`,
    `/${'..%2f'.repeat(12)}${parent.slice(1)}/secret.txt`,
    '/C:/Windows/win.ini',
    '/C:\\Windows\\win.ini',
    '/c:%5cwindows%5cwin.ini',
    '/\\\\server\\share\\secret.txt',
    '/%5c%5cserver%5cshare',
    'file:///etc/passwd',
    'http://localhost/../secret.txt',
    'http://localhost/%2e%2e/secret.txt',
    'http:/../secret.txt',
    '/escape/secret.txt',
    `/escape/${wwwName}-secret/secret.txt`,
    '/escape/%2e%2e/secret.txt',
    '/sub/escape-up/secret.txt',
    '/..',
    '/../',
    '/.%00./secret.txt',
    '/secret.txt%00.html',
    '/index.html%00/../../secret.txt',
    '/%2e%2e',
    '/%2e%2e/',
    '/%ef%bc%8e%ef%bc%8e/secret.txt',
    `/../${wwwName}-secret/`,
    `/..%2f${wwwName}-secret%2fsecret.txt`,
    `/../${wwwName}/../secret.txt`,
  ]) {
    payloads.add(p);
  }
  return [...payloads];
}

describe('path traversal corpus', () => {
  let parent: { dir: string; dispose: () => Promise<void> };
  let server: RunningStatic;
  let payloads: string[];
  let listingServer: RunningStatic;

  beforeAll(async () => {
    parent = await tempDir();
    const root = join(parent.dir, 'www');
    await writeTree(parent.dir, {
      'www/index.html': 'home',
      'www/sub/b.txt': 'b',
      'secret.txt': SECRET,
      'www-secret/secret.txt': SIBLING_SECRET,
    });
    await symlink(parent.dir, join(root, 'escape'));
    await mkdir(join(root, 'sub'), { recursive: true });
    await symlink('../..', join(root, 'sub', 'escape-up'));
    server = await startStatic(root);
    listingServer = await startStatic(root, { listing: true, dotfiles: true });
    payloads = corpus(basename(root), parent.dir);
  });
  afterAll(async () => {
    await server.close();
    await listingServer.close();
    await parent.dispose();
  });

  it('has at least 120 distinct payloads', () => {
    expect(payloads.length).toBeGreaterThanOrEqual(120);
  });

  it.each([
    ['the default server', () => server],
    ['a server with listings and dotfiles on', () => listingServer],
  ])('gives away no byte of a secret and no 5xx, on %s', async (_name, which) => {
    const s = which();
    const leaks: string[] = [];
    const errors: string[] = [];
    // A few at a time: fast, yet bounded.
    for (let i = 0; i < payloads.length; i += 16) {
      const batch = payloads.slice(i, i + 16);
      const replies = await Promise.all(batch.map((p) => rawGet(s.port, p)));
      replies.forEach((r, j) => {
        const text = r.raw.toString('latin1');
        const payload = batch[j] ?? '';
        if (text.includes(SECRET) || text.includes(SIBLING_SECRET) || /root:.*:0:0:/.test(text)) {
          leaks.push(payload);
        }
        if (r.status === 0 || r.status >= 500) errors.push(`${payload} → ${r.status}`);
      });
    }
    expect(leaks).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('answers 400, 403 or 404 to every payload aimed outside the root', async () => {
    const statuses = new Map<number, number>();
    for (let i = 0; i < payloads.length; i += 16) {
      const batch = payloads.slice(i, i + 16);
      for (const r of await Promise.all(batch.map((p) => rawGet(server.port, p)))) {
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    }
    expect([...statuses.keys()].filter((s) => ![400, 403, 404].includes(s))).toEqual([]);
  });
});
