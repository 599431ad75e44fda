import {
  NATS_REQUEST_ID_HEADER,
  netlabError,
  subjects,
  type Logger,
  type Msg,
  type NatsConnection,
  type Service,
} from '@netlab/shared';
import { parseDownloadStart, type DownloadManager } from './download-manager';
import { fetcherError } from './errors';
import {
  envelopeOf,
  FETCH_QUEUE_GROUP,
  problemOf,
  respondProblem,
  type ServiceMsg,
} from './nats-endpoint';

/**
 * Downloads over NATS, the same as `POST /downloads` and `GET|DELETE /downloads/:id`:
 *
 * ```
 * netlab.fetcher.download               start one (micro endpoint `download`, queue group fetcher):
 *                                       the envelope + "download": {filename, sha256} → the record
 * netlab.fetcher.downloads.<id>.get     the record, answered by the instance that holds it
 * netlab.fetcher.downloads.<id>.cancel  cancel it; the record comes back
 * netlab.events.fetcher.download        progress, done, failed, cancelled (download-manager.ts)
 * ```
 *
 * A download lives on the instance that started it, so its subjects are subscribed there, one
 * subscription per record kept (FETCH_DOWNLOAD_HISTORY): an id no instance holds gets NATS's
 * "no responders" at once instead of a timeout. Failures reply `{"error": <problem details>}`.
 */
export const downloadSubjects = {
  start: subjects.fetcherDownload,
  get: subjects.fetcherDownloadGet,
  cancel: subjects.fetcherDownloadCancel,
} as const;

export interface DownloadEndpointsDeps {
  service: Service;
  nc: NatsConnection;
  downloads: DownloadManager;
  logger: Logger;
}

export interface DownloadEndpoints {
  /** Subscribes the subjects of a record (called as records appear). */
  track(id: string): void;
  /** Unsubscribes them (the record left the history). */
  forget(id: string): void;
  /** Refuses new downloads (SHUTTING_DOWN); records stay readable until NATS drains. */
  drain(): void;
}

const encoder = new TextEncoder();

export function addDownloadEndpoints(deps: DownloadEndpointsDeps): DownloadEndpoints {
  const log = deps.logger.child({ component: 'nats-downloads' });
  const subscriptions = new Map<string, { unsubscribe(): void }>();
  let draining = false;

  deps.service.addEndpoint('download', {
    subject: downloadSubjects.start,
    queue: FETCH_QUEUE_GROUP,
    metadata: { envelope: 'README.md#downloads-over-nats' },
    handler: (err, msg) => {
      if (err !== null) {
        log.error({ err }, 'download endpoint failed');
        return;
      }
      const m = msg as ServiceMsg;
      try {
        if (draining) {
          throw netlabError('SHUTTING_DOWN', 'This fetcher instance is draining; ask again.');
        }
        const { envelope, options } = parseDownloadStart(envelopeOf(m));
        const requestId = m.headers?.get(NATS_REQUEST_ID_HEADER) || undefined;
        const record = deps.downloads.start(envelope, {
          ...options,
          ...(requestId === undefined ? {} : { requestId }),
        });
        m.respond(encoder.encode(JSON.stringify(record)));
      } catch (e) {
        respondProblem(m, e, downloadSubjects.start, log);
      }
    },
  });

  const answer = (id: string, msg: Msg): void => {
    const verb = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    try {
      if (verb === 'cancel') deps.downloads.cancel(id);
      else if (verb !== 'get') {
        throw fetcherError(
          'FETCH_INVALID_REQUEST',
          `Unknown verb ${verb}: use netlab.fetcher.downloads.<id>.get or .cancel.`,
        );
      }
      const record = deps.downloads.get(id);
      if (record === undefined)
        throw fetcherError('FETCH_DOWNLOAD_NOT_FOUND', `No download ${id}.`);
      msg.respond(encoder.encode(JSON.stringify(record)));
    } catch (err) {
      msg.respond(encoder.encode(JSON.stringify({ error: problemOf(err, msg.subject, log) })));
    }
  };

  const track = (id: string): void => {
    if (subscriptions.has(id)) return;
    try {
      const sub = deps.nc.subscribe(`netlab.fetcher.downloads.${id}.*`, {
        callback: (err, msg) => {
          if (err === null) answer(id, msg);
        },
      });
      subscriptions.set(id, sub);
    } catch (err) {
      // A closed connection: the record stays reachable over HTTP.
      log.debug({ err, id }, 'could not subscribe a download');
    }
  };

  // Records that appeared before NATS was joined.
  for (const record of deps.downloads.list()) track(record.id);

  return {
    track,
    forget(id) {
      subscriptions.get(id)?.unsubscribe();
      subscriptions.delete(id);
    },
    drain() {
      draining = true;
    },
  };
}
