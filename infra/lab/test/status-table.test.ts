import type { LabStatus } from '../src/lab-protocol';
import { formatBytes, formatDuration, formatStatusTable, formatTable } from '../src/status-table';

describe('formatTable', () => {
  it('pads every column to its widest cell and trims line ends', () => {
    expect(
      formatTable(
        ['A', 'BB', 'C'],
        [
          ['aaa', 'b', ''],
          ['a', 'bbbb', 'c'],
        ],
      ),
    ).toBe(['A    BB    C', 'aaa  b', 'a    bbbb  c'].join('\n'));
  });
});

describe('formatDuration', () => {
  it.each([
    [null, '-'],
    [850, '850ms'],
    [42_000, '42s'],
    [303_000, '5m03s'],
    [7_500_000, '2h05m'],
    [273_600_000, '3d04h'],
  ])('formats %p as %p', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(47_395_635)).toBe('45.2 MiB');
    expect(formatBytes(null)).toBe('-');
  });
});

describe('formatStatusTable', () => {
  const status: LabStatus = {
    supervisor: { pid: 10, dir: '/repo/.lab', uptimeMs: 65_000, stopping: false },
    nats: {
      pid: 11,
      state: 'running',
      restarts: 0,
      uptimeMs: 64_000,
      url: 'nats://127.0.0.1:4222',
      monitorUrl: 'http://127.0.0.1:8222',
    },
    parts: [
      {
        name: 'static',
        instances: [
          {
            name: 'static-1',
            part: 'static',
            pid: 12,
            state: 'running',
            restarts: 2,
            uptimeMs: 5_000,
            url: 'http://127.0.0.1:8081',
            healthUrl: null,
            live: {
              pid: 12,
              uptimeMs: 5_000,
              rssBytes: 1536,
              heapUsedBytes: 1,
              inFlight: 3,
              draining: false,
            },
          },
          {
            name: 'static-2',
            part: 'static',
            pid: null,
            state: 'restarting',
            restarts: 1,
            uptimeMs: null,
            url: 'http://127.0.0.1:40001',
            healthUrl: null,
            live: null,
          },
        ],
      },
      { name: 'gateway', instances: [] },
    ],
  };

  it('shows the lab, nats and one row per instance', () => {
    expect(formatStatusTable(status)).toBe(
      [
        'lab /repo/.lab  supervisor pid 10  up 1m05s',
        'nats nats://127.0.0.1:4222  monitoring http://127.0.0.1:8222',
        '',
        'PART     INSTANCE  PID  STATE       RESTARTS  UPTIME  URL                     RSS      IN-FLIGHT',
        'nats     nats      11   running     0         1m04s   nats://127.0.0.1:4222   -        -',
        'static   static-1  12   running     2         5s      http://127.0.0.1:8081   1.5 KiB  3',
        'static   static-2  -    restarting  1         -       http://127.0.0.1:40001  -        -',
        'gateway  -         -    stopped     -         -       -                       -        -',
        '',
      ].join('\n'),
    );
  });
});
