import { acceptedEncodings, prefersJson } from '../src/content-negotiation';

const names = (header: string) => acceptedEncodings(header).map((p) => p.encoding);

describe('acceptedEncodings', () => {
  it('prefers br over gzip when both are equally acceptable', () => {
    expect(names('gzip, deflate, br')).toEqual(['br', 'gzip']);
    expect(names('gzip, deflate, br, zstd')).toEqual(['br', 'gzip']);
  });

  it('ranks by q-value', () => {
    expect(names('br;q=0.5, gzip;q=0.9')).toEqual(['gzip', 'br']);
  });

  it('refuses q=0, and lets * stand for the encodings not named', () => {
    expect(names('br;q=0, *')).toEqual(['gzip']);
    expect(names('*;q=0')).toEqual([]);
    expect(names('identity')).toEqual([]);
    expect(names('x-gzip')).toEqual(['gzip']);
  });

  it('counts a malformed q-value as a refusal', () => {
    expect(names('br;q=2, gzip;q=abc')).toEqual([]);
  });
});

describe('prefersJson', () => {
  it.each([
    ['application/json', true],
    ['application/problem+json', true],
    ['application/json, text/html;q=0.5', true],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', false],
    ['*/*', false],
    ['text/html, application/json', false],
    ['application/*', false],
    [undefined, false],
  ])('Accept: %s → %s', (accept, json) => {
    expect(prefersJson(accept)).toBe(json);
  });
});
