import { formatBytes, renderProgress } from '../src/progress-bar';

describe('renderProgress', () => {
  it('draws a bar, percentage, sizes, rate and ETA when the total is known', () => {
    expect(renderProgress(5 * 1024 ** 2, 10 * 1024 ** 2, 2.5 * 1024 ** 2, 10)).toBe(
      '[#####-----]  50%  5.0 MiB / 10.0 MiB  2.5 MiB/s  ETA 2s',
    );
  });

  it('shows bytes and rate alone without a total', () => {
    expect(renderProgress(1536, null, 0)).toBe('1.5 KiB  0 B/s');
  });

  it('never passes 100 %', () => {
    expect(renderProgress(20, 10, 1, 4)).toBe('[####] 100%  20 B / 10 B  1 B/s  ETA 0s');
  });

  it('formats sizes in binary units', () => {
    expect([
      formatBytes(0),
      formatBytes(1023),
      formatBytes(1024),
      formatBytes(3 * 1024 ** 3),
    ]).toEqual(['0 B', '1023 B', '1.0 KiB', '3.0 GiB']);
  });
});
