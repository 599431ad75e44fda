import { silentLogger } from '@netlab/shared/testing';
import { runEchoLoad } from '../src/echo-load';
import { createUdpEchoSocket } from '../src/udp-echo-socket';
import { startTcpEcho } from './fixtures/sockets';

describe('runEchoLoad', () => {
  it('runs the round trips over C connections and summarises them', async () => {
    const { port, close } = await startTcpEcho();
    try {
      const summary = await runEchoLoad({
        target: { host: '127.0.0.1', port },
        transport: 'tcp',
        count: 500,
        concurrency: 8,
        size: 64,
        timeoutMs: 5000,
      });
      expect(summary).toMatchObject({ roundTrips: 500, errors: 0, connections: 8, size: 64 });
      expect(summary.perSecond).toBeGreaterThan(0);
      expect(summary.p50Ms).toBeGreaterThan(0);
      expect(summary.p50Ms).toBeLessThanOrEqual(summary.p99Ms);
      expect(summary.p99Ms).toBeLessThanOrEqual(summary.maxMs);
    } finally {
      await close();
    }
  });

  it('counts refused connections and lets the others finish the work', async () => {
    const { port, close, echo } = await startTcpEcho({ maxConnections: 2 });
    try {
      const summary = await runEchoLoad({
        target: { host: '127.0.0.1', port },
        transport: 'tcp',
        count: 100,
        concurrency: 4,
        size: 16,
        timeoutMs: 5000,
      });
      expect(summary.roundTrips).toBe(100);
      expect(summary.errorCodes).toEqual({ TCP_ECHO_TOO_MANY_CONNECTIONS: 2 });
      expect(echo.stats().rejected).toBe(2);
    } finally {
      await close();
    }
  });

  it('runs over UDP', async () => {
    const udp = createUdpEchoSocket({
      logger: silentLogger(),
      maxDatagram: 1024,
      maxQueueBytes: 1 << 20,
    });
    const { port } = await udp.bind(0, '127.0.0.1');
    try {
      const summary = await runEchoLoad({
        target: { host: '127.0.0.1', port },
        transport: 'udp',
        count: 200,
        concurrency: 4,
        size: 32,
        timeoutMs: 2000,
      });
      expect(summary).toMatchObject({ roundTrips: 200, errors: 0, transport: 'udp' });
    } finally {
      await udp.close();
    }
  });
});
