import { appendParams, formEncode, quotePlus, toPairs } from '../src/form-encoding';

describe('form encoding, as Python urlencode(doseq=True)', () => {
  it('quotes like quote_plus: space as +, only A-Z a-z 0-9 _ . - ~ left alone', () => {
    expect(quotePlus("a b~*!'()/?&=+%")).toBe('a+b~%2A%21%27%28%29%2F%3F%26%3D%2B%25');
    expect(quotePlus('é😀')).toBe('%C3%A9%F0%9F%98%80');
  });

  it('replaces a lone surrogate instead of throwing', () => {
    expect(quotePlus('\uD800x')).toBe('%EF%BF%BDx');
  });

  it('flattens lists in order and drops nulls', () => {
    expect(toPairs({ a: ['1', '2'], b: null, c: '3' })).toEqual([
      ['a', '1'],
      ['a', '2'],
      ['c', '3'],
    ]);
    expect(formEncode(toPairs({ a: ['1', '2'], 'k y': 'v w' }))).toBe('a=1&a=2&k+y=v+w');
  });

  it('appends params after an existing query', () => {
    const url = new URL('http://h/p?x=1#f');
    appendParams(url, [['y', '2']]);
    expect(url.href).toBe('http://h/p?x=1&y=2#f');
    const bare = new URL('http://h/p');
    appendParams(bare, []);
    expect(bare.href).toBe('http://h/p');
  });
});
