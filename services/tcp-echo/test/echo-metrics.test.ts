import { Registry } from 'prom-client';
import { registerEchoMetrics } from '../src/echo-metrics';
import type { TcpEchoStats } from '../src/tcp-echo-server';
import type { UdpEchoStats } from '../src/udp-echo-socket';

const tcpStats: TcpEchoStats = {
  open: 3,
  accepted: 10,
  rejected: 2,
  bytesIn: 1000,
  bytesOut: 990,
  bufferedBytes: 10,
  stalled: 1,
  disconnects: { idle: 4, slowReader: 1, reset: 2, deadPeer: 0, error: 0, shutdown: 0 },
};
const udpStats: UdpEchoStats = {
  datagramsIn: 7,
  echoed: 5,
  tooLarge: 1,
  queueFull: 1,
  sendErrors: 0,
  bytesIn: 70,
  bytesOut: 50,
};

describe('echo metrics', () => {
  it('exposes the counters the servers keep, read at scrape time', async () => {
    const registry = new Registry();
    let scrapes = 0;
    registerEchoMetrics(registry, {
      tcp: () => {
        scrapes += 1;
        return tcpStats;
      },
      udp: () => udpStats,
    });
    const text = await registry.metrics();
    for (const line of [
      'tcp_echo_connections_open 3',
      'tcp_echo_connections_total 10',
      'tcp_echo_connections_rejected_total 2',
      'tcp_echo_connections_stalled 1',
      'tcp_echo_buffered_bytes 10',
      'tcp_echo_disconnects_total{reason="idle_timeout"} 4',
      'tcp_echo_disconnects_total{reason="write_deadline"} 1',
      'tcp_echo_disconnects_total{reason="reset"} 2',
      'tcp_echo_bytes_received_total{transport="tcp"} 1000',
      'tcp_echo_bytes_sent_total{transport="tcp"} 990',
      'tcp_echo_bytes_received_total{transport="udp"} 70',
      'tcp_echo_udp_datagrams_total{result="echoed"} 5',
      'tcp_echo_udp_datagrams_total{result="too_large"} 1',
    ]) {
      expect(text).toContain(line);
    }
    // One snapshot serves every metric of a scrape.
    expect(scrapes).toBe(1);
    // Counters are set from the totals, not added up across scrapes.
    await new Promise((r) => setImmediate(r));
    expect(await registry.metrics()).toContain('tcp_echo_connections_total 10');
  });
});
