import { directoryRedirect, parseRequestPath } from '../src/request-path';

describe('parseRequestPath', () => {
  it('splits path and query, keeping the raw path for redirects', () => {
    expect(parseRequestPath('/a%20b/c.txt?x=1&y', false)).toEqual({
      kind: 'ok',
      path: '/a b/c.txt',
      rawPath: '/a%20b/c.txt',
      query: '?x=1&y',
    });
  });

  it('decodes exactly once: %252e%252e stays the literal name %2e%2e', () => {
    expect(parseRequestPath('/%252e%252e/x', false)).toMatchObject({
      kind: 'ok',
      path: '/%2e%2e/x',
    });
  });

  it('collapses runs of slashes', () => {
    expect(parseRequestPath('//a///b', false)).toMatchObject({ path: '/a/b', rawPath: '//a///b' });
  });

  it.each([
    ['/%zz', 'malformed percent-encoding'],
    ['/%', 'malformed percent-encoding'],
    ['/%c0%ae%c0%ae/x', 'overlong UTF-8'],
    ['/a%00.txt', 'NUL'],
    ['/..%5csecret', 'an encoded backslash'],
    ['/a\\b', 'a backslash'],
    ['*', 'the asterisk form'],
    ['/a#b', 'a fragment'],
  ])('refuses %s (%s) as bad', (url) => {
    expect(parseRequestPath(url, false).kind).toBe('bad');
  });

  it.each([
    '/..',
    '/../x',
    '/a/../b',
    '/%2e%2e/x',
    '/a/%2E%2E',
    '/.',
    '/./a',
    '/a/.%2fb',
    '/..%2fx',
  ])('refuses the dot segment in %s', (url) => {
    expect(parseRequestPath(url, true).kind).toBe('dot-segment');
  });

  it('hides dotfiles unless they are enabled', () => {
    expect(parseRequestPath('/.env', false).kind).toBe('hidden');
    expect(parseRequestPath('/a/.git/config', false).kind).toBe('hidden');
    expect(parseRequestPath('/.env', true).kind).toBe('ok');
    expect(parseRequestPath('/a.b/c..d/...e', false).kind).toBe('hidden');
    expect(parseRequestPath('/a.b/c..d', false).kind).toBe('ok');
  });

  it('accepts absolute-form targets and drops the authority', () => {
    expect(parseRequestPath('http://example.com/a?q', false)).toMatchObject({
      kind: 'ok',
      path: '/a',
      query: '?q',
    });
    expect(parseRequestPath('HTTP://example.com', false)).toMatchObject({ kind: 'ok', path: '/' });
  });
});

describe('directoryRedirect', () => {
  it('adds the slash and keeps the query', () => {
    expect(directoryRedirect('/a%20b', '?x')).toBe('/a%20b/?x');
  });

  it('collapses leading slashes, so //evil.example is not protocol-relative', () => {
    expect(directoryRedirect('//evil.example', '')).toBe('/evil.example/');
    expect(directoryRedirect('///x//y', '')).toBe('/x//y/');
  });
});
