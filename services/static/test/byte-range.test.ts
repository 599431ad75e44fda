import { coalesce, contentRange, parseRange } from '../src/byte-range';

describe('parseRange', () => {
  it('parses first-last, first- and -suffix', () => {
    expect(parseRange('bytes=0-9', 100, 16)).toEqual({
      kind: 'ranges',
      ranges: [{ start: 0, end: 9 }],
    });
    expect(parseRange('bytes=90-', 100, 16)).toEqual({
      kind: 'ranges',
      ranges: [{ start: 90, end: 99 }],
    });
    expect(parseRange('bytes=-5', 100, 16)).toEqual({
      kind: 'ranges',
      ranges: [{ start: 95, end: 99 }],
    });
  });

  it('is case-insensitive in the unit and tolerates whitespace', () => {
    expect(parseRange(' Bytes = 1-2 , 4-5', 100, 16)).toEqual({
      kind: 'ranges',
      ranges: [
        { start: 1, end: 2 },
        { start: 4, end: 5 },
      ],
    });
  });

  it.each(['bytes=', 'bytes=-', 'bytes=a-b', 'bytes=1-2-3', 'bytes=5-1', 'lines=1-2', 'bytes 0-1'])(
    'ignores %s',
    (header) => {
      expect(parseRange(header, 100, 16)).toEqual({ kind: 'ignore' });
    },
  );

  it('is unsatisfiable when no range starts inside the file', () => {
    expect(parseRange('bytes=100-', 100, 16)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 100, 16)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0, 16)).toEqual({ kind: 'unsatisfiable' });
  });

  it('ignores a suffix range on an empty file (nothing to cut, nothing to refuse)', () => {
    expect(parseRange('bytes=-1', 0, 16)).toEqual({ kind: 'ignore' });
  });

  it('ignores more ranges than the cap, however small they are', () => {
    const many = `bytes=${Array.from({ length: 17 }, (_, i) => `${i}-${i}`).join(',')}`;
    expect(parseRange(many, 100, 16)).toEqual({ kind: 'ignore' });
  });

  it('treats huge positions as numbers, not as errors', () => {
    expect(parseRange('bytes=0-99999999999999999999', 100, 16)).toEqual({
      kind: 'ranges',
      ranges: [{ start: 0, end: 99 }],
    });
  });
});

describe('coalesce', () => {
  it('keeps the order of disjoint ranges', () => {
    const r = [
      { start: 50, end: 59 },
      { start: 0, end: 9 },
    ];
    expect(coalesce(r)).toBe(r);
  });

  it('merges overlapping and adjacent ranges in ascending order', () => {
    expect(
      coalesce([
        { start: 20, end: 29 },
        { start: 0, end: 9 },
        { start: 10, end: 12 },
        { start: 25, end: 40 },
      ]),
    ).toEqual([
      { start: 0, end: 12 },
      { start: 20, end: 40 },
    ]);
  });
});

describe('contentRange', () => {
  it('formats a range and the unsatisfiable form', () => {
    expect(contentRange(100, { start: 0, end: 9 })).toBe('bytes 0-9/100');
    expect(contentRange(100)).toBe('bytes */100');
  });
});
