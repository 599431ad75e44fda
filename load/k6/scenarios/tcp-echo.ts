import { envInt, envSeconds, seconds, TCP_ADDR } from '../lib/config.ts';
import { closeTcpEcho, tcpEcho } from '../lib/journeys.ts';
import { SUMMARY_TREND_STATS } from '../lib/plan.ts';
import { summaryFiles } from '../lib/summary.ts';

/**
 * tcp-echo over raw TCP with k6/x/tcp (netlab's k6 extension), through the gateway's TCP
 * pass-through (TCP_ADDR, :7000) by default; TCP_ADDR=127.0.0.1:7001 measures the service alone.
 * Each VU keeps one connection and does ROUND_TRIPS 64-byte round trips per iteration.
 */
const vus = envInt('VUS', 32, 1, 5000);
const roundTrips = envInt('ROUND_TRIPS', 100, 1, 100_000);

export const options = {
  scenarios: {
    echo: {
      executor: 'constant-vus',
      vus,
      duration: seconds(envSeconds('DURATION', 30)),
      exec: 'echo',
      gracefulStop: '5s',
    },
  },
  thresholds: {
    tcp_errors: ['count==0'],
    checks: ['rate>0.999'],
    tcp_rtt: ['p(95)<50', 'p(99)<200'],
    tcp_connecting: ['p(95)<100'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function echo(): void {
  tcpEcho(roundTrips);
}

export function teardown(): void {
  closeTcpEcho();
}

export function handleSummary(data: Parameters<typeof summaryFiles>[0]): Record<string, string> {
  return summaryFiles(data, {
    scenario: 'tcp-echo',
    notes: [
      `${vus} connections to ${TCP_ADDR}, ${roundTrips} round trips of 64 bytes per iteration.`,
    ],
  });
}
