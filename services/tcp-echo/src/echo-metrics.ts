import { Counter, Gauge, type Registry } from 'prom-client';
import type { TcpDisconnects, TcpEchoStats } from './tcp-echo-server';
import type { UdpEchoStats } from './udp-echo-socket';

/** Prometheus label of each disconnect reason (snake_case, as Prometheus labels go). */
const DISCONNECT_REASONS: Readonly<Record<keyof TcpDisconnects, string>> = {
  idle: 'idle_timeout',
  slowReader: 'write_deadline',
  reset: 'reset',
  deadPeer: 'dead_peer',
  error: 'error',
  shutdown: 'shutdown',
};

/** Calls `fn` at most once per event-loop turn: one scrape reads every metric from one snapshot. */
function oncePerTurn<T>(fn: () => T): () => T {
  let cached: { value: T } | undefined;
  return () => {
    if (cached === undefined) {
      cached = { value: fn() };
      setImmediate(() => (cached = undefined));
    }
    return cached.value;
  };
}

/**
 * The service's Prometheus metrics, read from the servers' own counters when scraped rather than
 * incremented per chunk or per datagram, so that the echo path does no metrics work at all.
 */
export function registerEchoMetrics(
  registry: Registry,
  sources: { tcp: () => TcpEchoStats; udp: () => UdpEchoStats },
): void {
  const tcp = oncePerTurn(sources.tcp);
  const udp = oncePerTurn(sources.udp);
  const registers = [registry];

  new Gauge({
    name: 'tcp_echo_connections_open',
    help: 'TCP echo sessions open now',
    registers,
    collect() {
      this.set(tcp().open);
    },
  });
  new Gauge({
    name: 'tcp_echo_connections_stalled',
    help: 'TCP sessions whose reading is paused because the peer does not read its echo',
    registers,
    collect() {
      this.set(tcp().stalled);
    },
  });
  new Gauge({
    name: 'tcp_echo_buffered_bytes',
    help: 'User-space bytes held for open TCP sessions (unread input plus unsent echo)',
    registers,
    collect() {
      this.set(tcp().bufferedBytes);
    },
  });
  new Counter({
    name: 'tcp_echo_connections_total',
    help: 'TCP connections accepted as echo sessions',
    registers,
    collect() {
      this.reset();
      this.inc(tcp().accepted);
    },
  });
  new Counter({
    name: 'tcp_echo_connections_rejected_total',
    help: 'TCP connections refused because MAX_CONNECTIONS sessions were open',
    registers,
    collect() {
      this.reset();
      this.inc(tcp().rejected);
    },
  });
  new Counter({
    name: 'tcp_echo_disconnects_total',
    help: 'TCP sessions ended by the server or by an error, by reason',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      const d = tcp().disconnects;
      for (const key of Object.keys(DISCONNECT_REASONS) as (keyof TcpDisconnects)[]) {
        this.inc({ reason: DISCONNECT_REASONS[key] }, d[key]);
      }
    },
  });
  new Counter({
    name: 'tcp_echo_bytes_received_total',
    help: 'Bytes received, by transport',
    labelNames: ['transport'],
    registers,
    collect() {
      this.reset();
      this.inc({ transport: 'tcp' }, tcp().bytesIn);
      this.inc({ transport: 'udp' }, udp().bytesIn);
    },
  });
  new Counter({
    name: 'tcp_echo_bytes_sent_total',
    help: 'Bytes echoed back, by transport',
    labelNames: ['transport'],
    registers,
    collect() {
      this.reset();
      this.inc({ transport: 'tcp' }, tcp().bytesOut);
      this.inc({ transport: 'udp' }, udp().bytesOut);
    },
  });
  new Counter({
    name: 'tcp_echo_udp_datagrams_total',
    help: 'UDP datagrams received, by what became of them',
    labelNames: ['result'],
    registers,
    collect() {
      this.reset();
      const u = udp();
      this.inc({ result: 'echoed' }, u.echoed);
      this.inc({ result: 'too_large' }, u.tooLarge);
      this.inc({ result: 'queue_full' }, u.queueFull);
      this.inc({ result: 'send_error' }, u.sendErrors);
    },
  });
}
