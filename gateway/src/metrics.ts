import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * The gateway's metrics. The per-request pair (a counter and a latency histogram by route, service
 * and status) is on the hot path, so it is kept in plain cells that the proxy looks up once per
 * (route, service) and then per status in a small Map: no label hashing or validation per request
 * (prom-client's `labels()` does both). Both are exposed through the same prom-client registry as
 * every other metric. The rest are ordinary prom-client metrics on paths that are not hot.
 */

/** Seconds; from a cache hit on loopback to a slow upstream. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

interface StatusCell {
  readonly status: string;
  requests: number;
  sum: number;
  /** Non-cumulative counts per bucket; the last one is +Inf. */
  readonly buckets: Float64Array;
}

/** All series of one (route, service) pair. */
export interface RouteSeries {
  readonly route: string;
  readonly service: string;
  readonly byStatus: Map<number, StatusCell>;
}

export type RejectReason =
  | 'bad_request'
  | 'bad_path'
  | 'headers_too_large'
  | 'too_many_headers'
  | 'body_too_large'
  | 'request_timeout'
  | 'rate_limited'
  | 'too_many_connections'
  | 'no_route'
  | 'no_upstream';

export type UpstreamErrorKind = 'connect' | 'reset' | 'timeout' | 'bad_response';

export interface GatewayMetrics {
  series(route: string, service: string): RouteSeries;
  observe(series: RouteSeries, status: number, seconds: number): void;
  rejected(reason: RejectReason): void;
  retried(route: string): void;
  upstreamError(service: string, instance: string, kind: UpstreamErrorKind): void;
  readonly connections: Gauge;
  readonly connectionsTotal: Counter;
  readonly websockets: Gauge;
  readonly tcpConnections: Gauge;
  readonly tcpConnectionsTotal: Counter;
  readonly tcpBytes: Counter;
  readonly routeReloads: Counter;
  readonly discoveryEvents: Counter;
}

export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  const groups = new Map<string, RouteSeries>();
  const bucketCount = LATENCY_BUCKETS.length + 1;

  // Custom metrics: prom-client's registry only needs `name`, `help`, `type` and `get()`.
  registry.registerMetric({
    name: 'gateway_requests_total',
    help: 'Proxied requests by route, upstream service and response status',
    type: 'counter',
    aggregator: 'sum',
    get: () => {
      const values = [];
      for (const g of groups.values()) {
        for (const cell of g.byStatus.values()) {
          values.push({
            labels: { route: g.route, upstream: g.service, status: cell.status },
            value: cell.requests,
          });
        }
      }
      return Promise.resolve({
        name: 'gateway_requests_total',
        help: 'Proxied requests by route, upstream service and response status',
        type: 'counter',
        aggregator: 'sum',
        values,
      });
    },
    reset: () => groups.clear(),
  } as unknown as Parameters<Registry['registerMetric']>[0]);

  registry.registerMetric({
    name: 'gateway_request_duration_seconds',
    help: 'Time from the request to the end of the response, by route, upstream service and status',
    type: 'histogram',
    aggregator: 'sum',
    get: () => {
      const values = [];
      for (const g of groups.values()) {
        for (const cell of g.byStatus.values()) {
          const labels = { route: g.route, upstream: g.service, status: cell.status };
          let cumulative = 0;
          for (let i = 0; i < bucketCount; i++) {
            cumulative += cell.buckets[i]!;
            const le = i < LATENCY_BUCKETS.length ? String(LATENCY_BUCKETS[i]) : '+Inf';
            values.push({
              metricName: 'gateway_request_duration_seconds_bucket',
              labels: { ...labels, le },
              value: cumulative,
            });
          }
          values.push({
            metricName: 'gateway_request_duration_seconds_sum',
            labels,
            value: cell.sum,
          });
          values.push({
            metricName: 'gateway_request_duration_seconds_count',
            labels,
            value: cell.requests,
          });
        }
      }
      return Promise.resolve({
        name: 'gateway_request_duration_seconds',
        help: 'Time from the request to the end of the response, by route, upstream service and status',
        type: 'histogram',
        aggregator: 'sum',
        values,
      });
    },
    reset: () => groups.clear(),
  } as unknown as Parameters<Registry['registerMetric']>[0]);

  const rejectedCounter = new Counter({
    name: 'gateway_rejected_total',
    help: 'Requests and connections refused by the gateway itself, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  const retriesCounter = new Counter({
    name: 'gateway_retries_total',
    help: 'Requests retried on another instance, by route',
    labelNames: ['route'],
    registers: [registry],
  });
  const upstreamErrors = new Counter({
    name: 'gateway_upstream_errors_total',
    help: 'Transport failures talking to an upstream instance, by kind',
    labelNames: ['upstream', 'instance', 'kind'],
    registers: [registry],
  });

  return {
    series(route, service) {
      const key = `${route}\0${service}`;
      let g = groups.get(key);
      if (g === undefined) {
        g = { route, service, byStatus: new Map() };
        groups.set(key, g);
      }
      return g;
    },
    observe(series, status, seconds) {
      let cell = series.byStatus.get(status);
      if (cell === undefined) {
        cell = {
          status: String(status),
          requests: 0,
          sum: 0,
          buckets: new Float64Array(bucketCount),
        };
        series.byStatus.set(status, cell);
      }
      cell.requests++;
      cell.sum += seconds;
      let i = 0;
      while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
      cell.buckets[i]!++;
    },
    rejected: (reason) => rejectedCounter.inc({ reason }),
    retried: (route) => retriesCounter.inc({ route }),
    upstreamError: (upstream, instance, kind) => upstreamErrors.inc({ upstream, instance, kind }),
    connections: new Gauge({
      name: 'gateway_http_connections',
      help: 'Open client HTTP connections',
      registers: [registry],
    }),
    connectionsTotal: new Counter({
      name: 'gateway_http_connections_total',
      help: 'Client HTTP connections accepted',
      registers: [registry],
    }),
    websockets: new Gauge({
      name: 'gateway_websockets',
      help: 'Upgraded (WebSocket) connections being relayed',
      registers: [registry],
    }),
    tcpConnections: new Gauge({
      name: 'gateway_tcp_connections',
      help: 'Open TCP pass-through connections',
      registers: [registry],
    }),
    tcpConnectionsTotal: new Counter({
      name: 'gateway_tcp_connections_total',
      help: 'TCP pass-through connections by result',
      labelNames: ['result'],
      registers: [registry],
    }),
    tcpBytes: new Counter({
      name: 'gateway_tcp_bytes_total',
      help: 'Bytes relayed by the TCP listener, by direction (upstream: client to instance)',
      labelNames: ['direction'],
      registers: [registry],
    }),
    routeReloads: new Counter({
      name: 'gateway_route_table_loads_total',
      help: 'Route tables loaded, by source and result',
      labelNames: ['source', 'result'],
      registers: [registry],
    }),
    discoveryEvents: new Counter({
      name: 'gateway_discovery_events_total',
      help: 'Instances added and removed by discovery, by service and event',
      labelNames: ['upstream', 'event'],
      registers: [registry],
    }),
  };
}
