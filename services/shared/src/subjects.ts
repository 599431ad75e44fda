/**
 * Every NATS subject, stream and bucket netlab uses. The whole namespace:
 *
 * ```
 * $SRV.PING|INFO|STATS[.<name>[.<id>]]   micro service API (@nats-io/services): discovery
 * netlab.<service>.<verb>                 requests to a service (queue groups share the work)
 *   netlab.fetcher.fetch                  fetch one URL (envelope in, envelope out; queue group fetcher)
 *   netlab.fetcher.download               start a download (queue group fetcher)
 *   netlab.fetcher.downloads.<id>.get|cancel  one download, answered by the instance holding it
 *   netlab.tcp-echo.stats                 connection and byte counters of one tcp-echo instance
 * netlab.events.<service>.<kind>          events, captured by the JetStream stream NETLAB_EVENTS
 *   netlab.events.<service>.up|down       an instance registered or left
 *   netlab.events.dynamic.quotes          price changes (each dynamic instance relays the others')
 *   netlab.events.fetcher.download        download progress
 *   netlab.events.tcp-echo.stats          periodic counters
 * KV netlab_config                        live configuration
 *   gateway.routes                        the gateway's route table, overriding ROUTES_FILE
 * KV netlab_fetcher_sessions              fetcher sessions (named cookie jars), key session.<name>
 * ```
 *
 * Names are lower-case; `<service>` is the deployable's name (`static`, `tcp-echo`, …). Request
 * ids travel in the NATS header `x-request-id`, as in HTTP.
 */

/** Parts of the lab; the first segment after `netlab.` and the micro service name. */
export const SERVICE_NAMES = ['gateway', 'static', 'dynamic', 'fetcher', 'tcp-echo'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const subjects = {
  /** A request subject: `netlab.<service>.<verb>`. */
  request: (service: ServiceName, verb: string) => `netlab.${service}.${verb}`,
  /** An event subject: `netlab.events.<service>.<kind>`. */
  event: (service: ServiceName, kind: string) => `netlab.events.${service}.${kind}`,
  /** Every event, for the stream and for tails. */
  allEvents: 'netlab.events.>',
  fetcherFetch: 'netlab.fetcher.fetch',
  fetcherDownload: 'netlab.fetcher.download',
  fetcherDownloadGet: (id: string) => `netlab.fetcher.downloads.${id}.get`,
  fetcherDownloadCancel: (id: string) => `netlab.fetcher.downloads.${id}.cancel`,
  dynamicQuotes: 'netlab.events.dynamic.quotes',
  tcpEchoStats: 'netlab.tcp-echo.stats',
} as const;

export const EVENTS_STREAM = 'NETLAB_EVENTS';
export const CONFIG_BUCKET = 'netlab_config';
export const FETCHER_SESSIONS_BUCKET = 'netlab_fetcher_sessions';
export const configKeys = {
  gatewayRoutes: 'gateway.routes',
} as const;

/** The NATS header that carries the request id, as HTTP's `x-request-id`. */
export const NATS_REQUEST_ID_HEADER = 'x-request-id';
