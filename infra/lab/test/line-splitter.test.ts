import { createLineSplitter } from '../src/line-splitter';

describe('createLineSplitter', () => {
  const collect = (maxLineLength?: number) => {
    const batches: string[][] = [];
    const splitter = createLineSplitter((lines) => batches.push(lines), maxLineLength);
    return { batches, splitter };
  };

  it('joins lines split across chunks and emits each chunk as one batch', () => {
    const { batches, splitter } = collect();
    splitter.push('a\nb');
    splitter.push('c\nd\ne\n');
    expect(batches).toEqual([['a'], ['bc', 'd', 'e']]);
  });

  it('drops carriage returns of CRLF line ends', () => {
    const { batches, splitter } = collect();
    splitter.push('a\r\nb\r\n');
    expect(batches).toEqual([['a', 'b']]);
  });

  it('emits what is left at flush', () => {
    const { batches, splitter } = collect();
    splitter.push('no newline');
    splitter.flush();
    splitter.flush();
    expect(batches).toEqual([['no newline']]);
  });

  it('cuts a line that never ends, so that nothing buffers without bound', () => {
    const { batches, splitter } = collect(4);
    splitter.push('abcdefghij');
    splitter.flush();
    expect(batches).toEqual([['abcd', 'efgh'], ['ij']]);
  });
});
