import { classifyEvent } from '../../src/dashboard/lab-events';

const AT = '2026-11-24T00:00:00.000Z';

describe('classifyEvent', () => {
  it('turns an instance announcement into a tail line with its address', () => {
    const c = classifyEvent(
      'netlab.events.static.up',
      { instance: 'static-2', id: 'X', version: '0.1.0', metadata: { http: 'http://127.0.0.1:9' } },
      7,
      AT,
    );
    expect(c).toEqual({
      type: 'tail',
      event: {
        seq: 7,
        at: AT,
        service: 'static',
        kind: 'up',
        instance: 'static-2',
        summary: 'static-2 0.1.0 is up at http://127.0.0.1:9',
        level: 'info',
      },
    });
    const down = classifyEvent('netlab.events.static.down', { instance: 'static-2' }, 8, AT);
    expect(down.type === 'tail' && down.event).toMatchObject({
      summary: 'static-2 left',
      level: 'warn',
    });
  });

  it('keeps tcp-echo stats out of the tail and reads their counters', () => {
    const c = classifyEvent(
      'netlab.events.tcp-echo.stats',
      { instance: 'tcp-echo-1', at: AT, tcp: { open: 3, accepted: 10 }, udp: { datagramsIn: 4 } },
      null,
      'ignored',
    );
    expect(c).toEqual({
      type: 'echo-stats',
      stats: { instance: 'tcp-echo-1', at: AT, tcpOpen: 3, tcpAccepted: 10, udpDatagrams: 4 },
    });
  });

  it('updates downloads on progress without a tail line, and adds one when a download ends', () => {
    const download = {
      id: 'd1',
      url: 'http://x/f',
      state: 'running',
      bytes: 10,
      total: 100,
      rateBps: 5,
    };
    const progress = classifyEvent(
      'netlab.events.fetcher.download',
      { instance: 'fetcher-1', kind: 'progress', download },
      1,
      AT,
    );
    expect(progress).toMatchObject({ type: 'download', event: undefined, download: { bytes: 10 } });
    const done = classifyEvent(
      'netlab.events.fetcher.download',
      { instance: 'fetcher-1', kind: 'done', download: { ...download, state: 'done', bytes: 100 } },
      2,
      AT,
    );
    expect(done).toMatchObject({
      type: 'download',
      download: { state: 'done', bytes: 100 },
      event: { kind: 'download.done', summary: 'download done: http://x/f (100 B)' },
    });
  });

  it('counts the price changes of a quote refresh', () => {
    const c = classifyEvent(
      'netlab.events.dynamic.quotes',
      { type: 'quotes', instance: 'dynamic-1', seq: 1, at: AT, changes: [{}, {}, {}] },
      3,
      AT,
    );
    expect(c.type === 'tail' && c.event.summary).toBe(
      'dynamic-1 refreshed quotes: 3 price changes',
    );
  });

  it('gives any other event a line from its message or fields, and survives garbage', () => {
    const restart = classifyEvent(
      'netlab.events.static.restart',
      { instance: 'static-1', reason: 'crashed' },
      4,
      AT,
    );
    expect(restart.type === 'tail' && restart.event).toMatchObject({
      summary: 'static-1 restart: crashed',
      level: 'warn',
    });
    const junk = classifyEvent('netlab.events.x', 'not an object', null, AT);
    expect(junk.type === 'tail' && junk.event).toMatchObject({ service: 'x', kind: '?' });
    const long = classifyEvent(
      'netlab.events.s.k',
      { message: `a\u0007${'b'.repeat(500)}` },
      null,
      AT,
    );
    expect(long.type === 'tail' && long.event.summary.length).toBeLessThanOrEqual(160);
    expect(long.type === 'tail' && long.event.summary).not.toContain('\u0007');
  });
});
