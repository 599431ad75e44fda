import { matchesEntityTag, parseHttpDate } from '../src/conditional';

describe('matchesEntityTag', () => {
  it('matches strongly only unweakened tags', () => {
    expect(matchesEntityTag('"a"', '"a"', 'strong')).toBe(true);
    expect(matchesEntityTag('W/"a"', '"a"', 'strong')).toBe(false);
    expect(matchesEntityTag('W/"a"', '"a"', 'weak')).toBe(true);
  });

  it('scans a list whose tags may hold commas', () => {
    expect(matchesEntityTag('"x,y", "a"', '"a"', 'strong')).toBe(true);
    expect(matchesEntityTag('"x,"a""', '"a"', 'strong')).toBe(false);
  });

  it('matches * and nothing malformed', () => {
    expect(matchesEntityTag(' * ', '"a"', 'strong')).toBe(true);
    expect(matchesEntityTag('a', '"a"', 'weak')).toBe(false);
    expect(matchesEntityTag('"a', '"a"', 'weak')).toBe(false);
  });
});

describe('parseHttpDate', () => {
  it('reads the three HTTP-date forms to whole seconds (RFC 9110 §5.6.7)', () => {
    const t = Date.UTC(1994, 10, 6, 8, 49, 37) / 1000;
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(t);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(t);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBeDefined();
  });

  it('is undefined for what is not a date', () => {
    expect(parseHttpDate('soon')).toBeUndefined();
    expect(parseHttpDate(undefined)).toBeUndefined();
  });
});
