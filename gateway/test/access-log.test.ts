import { createAccessLog } from '../src/access-log';

describe('the access log', () => {
  it('writes the lines of one event-loop turn in one write, as pino JSON', async () => {
    const writes: string[] = [];
    const log = createAccessLog({
      service: 'gateway',
      instance: 'gateway-1',
      level: 'info',
      write: (text) => writes.push(text) > 0,
    });
    for (let i = 0; i < 50; i++) log.logger.info({ status: 200, i }, 'request');
    expect(writes).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(1);
    const lines = writes[0]!
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(50);
    expect(lines[49]).toMatchObject({
      service: 'gateway',
      instance: 'gateway-1',
      component: 'access',
      status: 200,
      i: 49,
      msg: 'request',
    });
  });

  it('drops and counts lines past its buffer instead of growing without bound', () => {
    const log = createAccessLog({
      service: 'gateway',
      instance: 'gateway-1',
      level: 'info',
      write: () => true,
      maxPendingBytes: 1000,
    });
    for (let i = 0; i < 100; i++) log.logger.info({ i }, 'request');
    expect(log.dropped()).toBeGreaterThan(80);
    log.flush();
  });
});
