import {
  NATS_REQUEST_ID_HEADER,
  netlabError,
  subjects,
  toProblem,
  type Logger,
  type Msg,
  type NatsConnection,
  type Service,
} from '@netlab/shared';
import { fetcherError } from './errors';
import type { FetchEngine } from './fetch-engine';
import { parseEnvelopeJson, parseFetchRequest } from './request-model';

/**
 * The micro endpoint `netlab.fetcher.fetch` (queue group `fetcher`, so instances share the work):
 * the same envelope as `POST /fetch`, as JSON. A reply is the response envelope, or, on failure,
 * `{"error": <problem details>}` with the micro service error headers (`Nats-Service-Error-Code`:
 * the HTTP status, `Nats-Service-Error`: the stable code). Bodies over FETCH_NATS_MAX_BODY, and
 * replies that would not fit the server's max_payload, are refused with FETCH_TOO_LARGE_FOR_NATS:
 * use `POST /fetch/stream` or `POST /downloads` for those.
 */

export const FETCH_QUEUE_GROUP = 'fetcher';

export interface FetchEndpointDeps {
  service: Service;
  nc: NatsConnection;
  engine: FetchEngine;
  logger: Logger;
  /** FETCH_NATS_MAX_BODY */
  maxBodyBytes: number;
}

/** The micro service message (@nats-io/services' ServiceMsg, which @netlab/shared does not re-export). */
export type ServiceMsg = Msg & {
  respondError(code: number, description: string, data?: Uint8Array): boolean;
};

const encoder = new TextEncoder();

/** The request's JSON envelope; FETCH_INVALID_REQUEST when it is not JSON. */
export function envelopeOf(msg: Msg): unknown {
  return parseEnvelopeJson(msg.string());
}

/** Problem details for a failure; an unexpected one is logged. */
export function problemOf(
  err: unknown,
  instance: string,
  log: Logger,
): ReturnType<typeof toProblem> {
  const problem = toProblem(err, instance);
  if (problem.code === 'INTERNAL') log.error({ err }, 'unexpected error');
  return problem;
}

/** Replies `{"error": <problem details>}` with the micro service error headers. */
export function respondProblem(msg: ServiceMsg, err: unknown, instance: string, log: Logger): void {
  const problem = problemOf(err, instance, log);
  msg.respondError(
    problem.status,
    problem.code,
    encoder.encode(JSON.stringify({ error: problem })),
  );
}
// Room for the reply's NATS headers and protocol line within max_payload.
const HEADROOM = 4096;

export interface FetchEndpoint {
  /** Refuses new requests (SHUTTING_DOWN) and waits for those in flight. */
  drain(): Promise<void>;
  inFlight(): number;
}

export function addFetchEndpoint(deps: FetchEndpointDeps): FetchEndpoint {
  const log = deps.logger.child({ component: 'nats-endpoint' });
  let inFlight = 0;
  let draining = false;
  let idle: (() => void) | undefined;

  const fail = (msg: ServiceMsg, err: unknown): void =>
    respondProblem(msg, err, subjects.fetcherFetch, log);

  const handle = async (msg: ServiceMsg): Promise<void> => {
    const requestId = msg.headers?.get(NATS_REQUEST_ID_HEADER) || undefined;
    if (draining) {
      fail(msg, netlabError('SHUTTING_DOWN', 'This fetcher instance is draining; ask again.'));
      return;
    }
    inFlight += 1;
    try {
      const req = parseFetchRequest(envelopeOf(msg));
      const out = await deps.engine.fetch(req, {
        via: 'nats',
        ...(requestId === undefined ? {} : { requestId }),
        inlineCap: {
          bytes: deps.maxBodyBytes,
          name: 'FETCH_NATS_MAX_BODY',
          code: 'FETCH_TOO_LARGE_FOR_NATS',
        },
      });
      const payload = encoder.encode(JSON.stringify(out));
      const max = (deps.nc.info?.max_payload ?? 1024 * 1024) - HEADROOM;
      if (payload.length > max) {
        // Headers and base64 can push a body under the cap past max_payload.
        throw fetcherError(
          'FETCH_TOO_LARGE_FOR_NATS',
          `The reply would be ${payload.length} bytes, more than a NATS message takes (${max}).`,
        );
      }
      msg.respond(payload);
    } catch (err) {
      fail(msg, err);
    } finally {
      inFlight -= 1;
      if (inFlight === 0) idle?.();
    }
  };

  deps.service.addEndpoint('fetch', {
    subject: subjects.fetcherFetch,
    queue: FETCH_QUEUE_GROUP,
    metadata: { envelope: 'README.md#the-envelope' },
    handler: (err, msg) => {
      if (err !== null) {
        log.error({ err }, 'fetch endpoint failed');
        return;
      }
      void handle(msg);
    },
  });

  return {
    inFlight: () => inFlight,
    drain() {
      draining = true;
      if (inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => (idle = resolve));
    },
  };
}
