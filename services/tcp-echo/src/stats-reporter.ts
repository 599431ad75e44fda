import { subjects, type Logger, type NatsClient, type Service } from '@netlab/shared';
import type { TcpEchoStats } from './tcp-echo-server';
import type { UdpEchoStats } from './udp-echo-socket';

/** What the stats endpoint answers and each stats event carries: one instance's counters. */
export interface EchoStats {
  instance: string;
  version: string;
  /** ISO time of the snapshot. */
  at: string;
  uptimeMs: number;
  tcp: TcpEchoStats & { address: string };
  udp: UdpEchoStats & { address: string };
}

export interface StatsReporterOptions {
  nats: NatsClient;
  service: Service;
  snapshot: () => EchoStats;
  /** Period of the stats events; 0 publishes none (the endpoint still answers). */
  intervalMs: number;
  logger: Logger;
}

/**
 * Adds the `stats` endpoint (`netlab.tcp-echo.stats`) to the micro service and publishes a
 * snapshot on `netlab.events.tcp-echo.stats` every interval: one event per instance per period,
 * never one per connection. The endpoint is in the micro service's queue group, so a request is
 * answered by one instance; the events carry every instance's figures.
 */
export function startStatsReporter(opts: StatsReporterOptions): { close(): void } {
  const log = opts.logger.child({ component: 'stats' });
  opts.service.addEndpoint('stats', {
    subject: subjects.tcpEchoStats,
    handler: (err, msg) => {
      if (err) {
        log.warn({ err }, 'stats endpoint failed');
        return;
      }
      msg.respond(JSON.stringify(opts.snapshot()));
    },
    metadata: { description: 'connection, byte and datagram counters of the answering instance' },
  });

  const subject = subjects.event('tcp-echo', 'stats');
  const publish = (): void => {
    try {
      opts.nats.publishJson(subject, opts.snapshot());
    } catch (err) {
      // NATS_BUFFER_FULL while disconnected: the next period brings fresh figures anyway.
      log.debug({ err }, 'stats event not published');
    }
  };
  const timer = opts.intervalMs > 0 ? setInterval(publish, opts.intervalMs) : undefined;
  timer?.unref();
  return {
    close() {
      if (timer !== undefined) clearInterval(timer);
    },
  };
}
