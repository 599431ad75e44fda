import { createLogger } from '@netlab/shared';
import { waitFor } from '@netlab/shared/testing';
import { createAccessLog, type AccessRecord } from '../src/access-log';

const record: AccessRecord = {
  reqId: 'r-1',
  method: 'GET',
  path: '/css/site.css',
  status: 200,
  route: 'static',
  upstream: 'static-1',
  ms: 0.7,
  client: '127.0.0.1',
};

function capture(level: 'info' | 'warn' = 'info', maxPendingBytes?: number) {
  const writes: string[] = [];
  const log = createAccessLog({
    service: 'gateway',
    instance: 'gateway-1',
    level,
    write: (chunk) => writes.push(chunk.toString('latin1')) > 0,
    maxPendingBytes,
    flushMs: 1,
  });
  const lines = (): Record<string, unknown>[] =>
    writes
      .join('')
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, writes, lines };
}

const turn = () => new Promise((r) => setImmediate(r));
/** Past the 1 ms flush of capture()'s logs. */
const flushed = () => new Promise((r) => setTimeout(r, 20));

describe('the access log', () => {
  it('writes a batch once batchBytes wait, or flushMs after its first line: few writes', async () => {
    const writes: string[] = [];
    const log = createAccessLog({
      service: 'gateway',
      instance: 'gateway-1',
      level: 'info',
      write: (chunk) => writes.push(chunk.toString('latin1')) > 0,
      batchBytes: 4000,
      flushMs: 50,
    });
    for (let i = 0; i < 3; i++) log.line('info', { ...record, status: 200 + i }, 'request');
    await turn();
    expect(writes).toHaveLength(0);
    await waitFor('the batch to be flushed by time', () => writes.length === 1);
    expect(writes[0]!.trim().split('\n')).toHaveLength(3);

    // A line that does not fit sends the full batch at once, in the request's own turn.
    let n = 0;
    while (writes.length === 1 && n < 100) {
      log.line('info', { ...record, status: 300 + n++ }, 'request');
    }
    expect(writes).toHaveLength(2);
    expect(writes[1]!.length).toBeLessThanOrEqual(4000);
    expect(writes[1]!.length).toBeGreaterThan(4000 - 400);
    expect(writes[1]!.trim().split('\n')).toHaveLength(n - 1);
    // A line longer than a batch goes alone.
    log.line('info', { ...record, path: `/${'p'.repeat(5000)}` }, 'request');
    expect(writes).toHaveLength(4);
    expect(JSON.parse(writes[3]!)).toMatchObject({ path: `/${'p'.repeat(5000)}` });
  });

  it('reuses a batch buffer only after its writer said it was written', () => {
    const held: { chunk: Buffer; copy: string; written: () => void }[] = [];
    const log = createAccessLog({
      service: 'gateway',
      instance: 'gateway-1',
      level: 'info',
      write: (chunk, written) => held.push({ chunk, copy: chunk.toString('latin1'), written }) > 0,
      batchBytes: 2000,
      flushMs: 1000,
    });
    const fill = (from: number, batches: number) => {
      let n = from;
      const before = held.length;
      while (held.length < before + batches)
        log.line('info', { ...record, status: n++ }, 'request');
      return n;
    };
    // Nothing written back yet: every batch has a buffer of its own, none is overwritten.
    const n = fill(100, 5);
    const buffers = new Set(held.map((h) => h.chunk.buffer));
    expect(buffers.size).toBe(5);
    for (const h of held) expect(h.chunk.toString('latin1')).toBe(h.copy);
    // Written back: after the batch being filled (already a buffer of its own), the next ones
    // reuse those buffers instead of new ones.
    for (const h of held.splice(0)) h.written();
    fill(n, 3);
    expect(held.map((h) => buffers.has(h.chunk.buffer))).toEqual([false, true, true]);
    for (const h of held) expect(h.chunk.toString('latin1')).toBe(h.copy);
    const lines = held.flatMap((h) => h.copy.trim().split('\n'));
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ reqId: 'r-1' });
  });

  it('writes exactly the line pino would write for the same fields (time aside)', async () => {
    const rejected: AccessRecord = {
      reqId: 'r-2',
      method: 'GET',
      path: '/x',
      status: 404,
      route: undefined,
      code: 'GATEWAY_NO_ROUTE',
    };
    const { log, lines } = capture();
    log.line('warn', { ...record, status: 502, err: 'refused' }, 'request failed');
    log.line('info', rejected, 'request rejected');
    await flushed();
    const pinoLines: string[] = [];
    const pinoLog = createLogger({
      service: 'gateway',
      instance: 'gateway-1',
      destination: { write: (l: string) => void pinoLines.push(l) },
    }).child({ component: 'access' });
    pinoLog.warn({ ...record, status: 502, err: 'refused' }, 'request failed');
    pinoLog.info(rejected, 'request rejected');
    const ours = lines();
    const theirs = pinoLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(ours).toHaveLength(2);
    for (let i = 0; i < 2; i++) {
      expect(Object.keys(ours[i]!)).toEqual(Object.keys(theirs[i]!));
      expect({ ...ours[i], time: 0 }).toEqual({ ...theirs[i], time: 0 });
      expect(new Date(ours[i]!.time as string).toISOString()).toBe(ours[i]!.time);
    }
  });

  it('escapes whatever a path or name holds, so every line stays one valid JSON object', async () => {
    const { log, writes, lines } = capture();
    const path = '/a"b\\c\nd\u0001é\u2028😀';
    log.line('info', { ...record, path, upstream: 'x"\ny' }, 'request');
    await flushed();
    expect(writes[0]!.split('\n')).toHaveLength(2); // one line and the final newline
    // ASCII only: written as latin1, the line must not depend on an encoding.
    expect(/^[\x20-\x7e\n]*$/.test(writes[0]!)).toBe(true);
    expect(lines()[0]).toMatchObject({ path, upstream: 'x"\ny' });
  });

  it('writes info lines only at LOG_LEVEL info or below; failed requests still at warn', async () => {
    const { log, lines } = capture('warn');
    log.line('info', record, 'request');
    log.line('warn', { ...record, status: 504 }, 'request failed');
    await flushed();
    expect(lines()).toEqual([expect.objectContaining({ level: 40, status: 504 })]);
  });

  it('drops and counts lines past its buffer instead of growing without bound', async () => {
    const { log, lines } = capture('info', 1000);
    for (let i = 0; i < 100; i++) log.line('info', record, 'request');
    expect(log.dropped()).toBeGreaterThan(80);
    log.flush();
    const kept = lines().length;
    expect(kept).toBe(100 - log.dropped());
    await flushed();
    expect(lines()).toHaveLength(kept);
  });
});
