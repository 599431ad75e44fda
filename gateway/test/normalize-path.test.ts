import { normalizePath } from '../src/normalize-path';

describe('normalizePath', () => {
  it.each([
    ['/', '/'],
    ['/api/stocks', '/api/stocks'],
    ['/api/stocks/', '/api/stocks/'],
    ['/x/../api/stocks', '/api/stocks'],
    ['/%2e%2e/api', '/api'],
    ['/%2E%2E/%2e/api/', '/api/'],
    ['/static/%2e%2e/api', '/api'],
    ['//api//stocks', '/api/stocks'],
    ['/a/./b/.', '/a/b/'],
    ['/a/b/..', '/a/'],
    ['/../../..', '/'],
    ['/%61pi/x', '/api/x'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/a%20b', '/a%20b'],
    ['/.well-known/x', '/.well-known/x'],
    ['/%252e%252e/api', '/%252e%252e/api'],
  ])('normalises %s to %s', (raw, expected) => {
    expect(normalizePath(raw)).toBe(expected);
  });

  it.each([
    ['an encoded slash', '/api%2F..%2Fadmin'],
    ['an encoded backslash', '/api%5c..%5cadmin'],
    ['a raw backslash', '/api\\..\\admin'],
    ['an encoded NUL', '/a%00b'],
    ['an encoded control character', '/a%0d%0ab'],
    ['a malformed escape', '/a%zz'],
    ['a truncated escape', '/a%2'],
    ['a relative path', 'api/x'],
  ])('refuses %s', (_what, raw) => {
    expect(normalizePath(raw)).toBeUndefined();
  });

  it('returns the very string it was given when nothing needs normalising', () => {
    const raw = '/api/stocks?x=1'.split('?')[0]!;
    expect(normalizePath(raw)).toBe(raw);
  });
});
