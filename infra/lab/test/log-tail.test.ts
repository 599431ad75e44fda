import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tailLines } from '../src/log-tail';

describe('tailLines', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'netlab-tail-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const file = (text: string): string => {
    const path = join(dir, 'part.log');
    writeFileSync(path, text);
    return path;
  };

  it('returns the last n lines', () => {
    expect(tailLines(file('a\nb\nc\nd\n'), 2)).toEqual(['c', 'd']);
  });

  it('returns every line of a short file', () => {
    expect(tailLines(file('a\nb\n'), 10)).toEqual(['a', 'b']);
  });

  it('keeps a last line without a newline', () => {
    expect(tailLines(file('a\nb\nc'), 2)).toEqual(['b', 'c']);
  });

  it('finds the tail of a file larger than one read', () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'x'.repeat(20)}`);
    expect(tailLines(file(`${lines.join('\n')}\n`), 3)).toEqual(lines.slice(-3));
  });

  it('reads no more than maxBytes and drops the partial first line', () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line-${String(i).padStart(3, '0')}`);
    expect(tailLines(file(`${lines.join('\n')}\n`), 100, 25)).toEqual(['line-098', 'line-099']);
  });

  it('has no lines for a missing file or n = 0', () => {
    expect(tailLines(join(dir, 'missing.log'), 5)).toEqual([]);
    expect(tailLines(file('a\n'), 0)).toEqual([]);
  });
});
