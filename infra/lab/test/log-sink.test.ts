import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLinePrinter, createLogSink } from '../src/log-sink';

const pinoLine = JSON.stringify({
  level: 30,
  time: '2026-01-01T10:00:00.000Z',
  service: 'static',
  instance: 'static-2',
  pid: 1,
  msg: 'listening',
});

describe('createLinePrinter', () => {
  const print = createLinePrinter(false);

  it('pretty-prints a pino line, prefixed with the instance named in it', () => {
    const text = print('static', pinoLine);
    expect(text).toMatch(/^static-2 \| \[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening\n$/);
    expect(text).not.toContain('"pid"');
  });

  it('passes other lines through, prefixed with the source', () => {
    expect(print('static-1', 'plain text')).toBe('static-1 | plain text\n');
    expect(print('static-1', '{not json')).toBe('static-1 | {not json\n');
  });

  it('keeps an entry on one line, with its fields', () => {
    const text = print('x', JSON.stringify({ level: 30, time: 0, msg: 'm', extra: 'e' }));
    expect(text).toMatch(/^x +\| \[[\d:.]+\] INFO: m \{"extra":"e"\}\n$/);
  });

  it('prefixes every line of an error entry with its stack', () => {
    const err = { type: 'Error', message: 'boom', stack: 'Error: boom\n    at here' };
    const text = print('x', JSON.stringify({ level: 50, time: 0, msg: 'failed', err }));
    const lines = text.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line.startsWith('x        | ')).toBe(true);
  });
});

describe('createLogSink', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'netlab-sink-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes raw lines to <part>.log and pretty lines to the terminal', () => {
    let terminal = '';
    const sink = createLogSink({
      dir,
      out: { write: (t: string) => (terminal += t) },
      colorize: false,
    });
    sink.write('static', 'static-1', [pinoLine, 'plain']);
    sink.close();
    expect(readFileSync(join(dir, 'static.log'), 'utf8')).toBe(`${pinoLine}\nplain\n`);
    expect(terminal).toContain('INFO: listening');
    expect(terminal).toContain('static-1 | plain');
  });

  it('keeps the previous run as .log.1', () => {
    writeFileSync(join(dir, 'static.log'), 'old\n');
    const sink = createLogSink({ dir, out: { write: () => true }, colorize: false });
    sink.write('static', 'static-1', ['new']);
    sink.close();
    expect(readFileSync(join(dir, 'static.log.1'), 'utf8')).toBe('old\n');
    expect(readFileSync(join(dir, 'static.log'), 'utf8')).toBe('new\n');
  });

  it('tails and follows one part', () => {
    const sink = createLogSink({ dir, out: { write: () => true }, colorize: false });
    sink.write('static', 'static-1', ['one', 'two']);
    sink.write('other', 'other-1', ['elsewhere']);
    expect(sink.tail('static', 1)).toEqual(['two']);
    const followed: string[] = [];
    const unfollow = sink.follow('static', (line) => followed.push(line));
    sink.write('static', 'static-1', ['three']);
    sink.write('other', 'other-1', ['not this']);
    unfollow();
    sink.write('static', 'static-1', ['four']);
    sink.close();
    expect(followed).toEqual(['three']);
  });

  it('keeps lines off the terminal when told to, but not out of the file', () => {
    let terminal = '';
    const sink = createLogSink({
      dir,
      out: { write: (t: string) => (terminal += t) },
      colorize: false,
      showOnTerminal: (_part, line) => !line.includes('[INF]'),
    });
    sink.write('nats', 'nats', ['[1] [INF] chatter', '[1] [ERR] trouble']);
    sink.close();
    expect(terminal).toBe('nats     | [1] [ERR] trouble\n');
    expect(readFileSync(join(dir, 'nats.log'), 'utf8')).toContain('chatter');
  });
});
