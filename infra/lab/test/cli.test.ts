import { parseCliArgs } from '../src/cli';

describe('parseCliArgs', () => {
  it.each([
    [['up'], { name: 'up' }],
    [['help'], { name: 'help' }],
    [['--help'], { name: 'help' }],
    [['status'], { name: 'status', json: false }],
    [['status', '--json'], { name: 'status', json: true }],
    [['stop'], { name: 'stop' }],
    [['restart', 'static'], { name: 'restart', part: 'static' }],
    [['scale', 'static', '3'], { name: 'scale', part: 'static', instances: 3 }],
    [['scale', 'static', '0'], { name: 'scale', part: 'static', instances: 0 }],
    [['logs', 'nats'], { name: 'logs', part: 'nats', lines: 50, follow: false, raw: false }],
    [
      ['logs', 'static', '-n', '5', '-f'],
      { name: 'logs', part: 'static', lines: 5, follow: true, raw: false },
    ],
    [
      ['logs', '--lines=7', '--follow', '--raw', 'static'],
      { name: 'logs', part: 'static', lines: 7, follow: true, raw: true },
    ],
  ])('reads %p', (argv, command) => {
    expect(parseCliArgs(argv)).toEqual({ ok: true, command });
  });

  it.each([
    [[], 'no command given'],
    [['launch'], "unknown command 'launch'"],
    [['status', '--yaml'], "Unknown option '--yaml'"],
    [['up', 'now'], "'up' takes 0 arguments, got 1"],
    [['restart'], "'restart' takes 1 argument, got 0"],
    [['scale', 'static'], "'scale' takes 2 arguments, got 1"],
    [['scale', 'static', 'many'], "expected a number of instances from 0 to 16, got 'many'"],
    [['scale', 'static', '17'], 'from 0 to 16'],
    [['scale', 'static', '-1'], "Unknown option '-1'"],
    [['logs', 'static', '-n', 'ten'], "-n expects a number from 0 to 10000, got 'ten'"],
  ])('refuses %p', (argv, error) => {
    const parsed = parseCliArgs(argv);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok === false && parsed.error).toContain(error);
  });
});
