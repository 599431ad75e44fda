import { Client } from 'net-ipc';
import type { Logger } from './logger';

/**
 * The control plane of `netlab up`: a net-ipc server on a Unix socket under `.lab/`, independent of
 * NATS so that it works while NATS is down or being restarted. Two kinds of client connect:
 *
 * - instances the supervisor started (through {@link connectControl}, called by the lifecycle):
 *   they answer `status` requests and obey the `drain` broadcast;
 * - the `netlab` CLI, which sends {@link ControlCommand}s and gets {@link ControlReply}s.
 */

/** Sent on connect, so the supervisor knows who is on the other end. */
export type ControlHello =
  { kind: 'instance'; part: string; instance: string; pid: number } | { kind: 'cli' };

/** What an instance reports about itself. */
export interface InstanceStatus {
  pid: number;
  uptimeMs: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Requests, connections or jobs being worked on right now. */
  inFlight: number;
  draining: boolean;
}

/** Supervisor → instance. */
export type InstanceRequest = { op: 'status' };
export type InstanceBroadcast = { op: 'drain' };

/** CLI → supervisor. */
export type ControlCommand =
  | { op: 'status' }
  | { op: 'stop' }
  | { op: 'restart'; part: string }
  | { op: 'scale'; part: string; instances: number }
  /** The last `lines` of a part's log; with `follow`, new lines keep coming as {@link LogLineMessage}s. */
  | { op: 'logs'; part: string; lines: number; follow?: boolean };

/** Supervisor → a following CLI: one raw line as written to `.lab/logs/<part>.log`. */
export interface LogLineMessage {
  op: 'log';
  part: string;
  line: string;
}

export type ControlReply<T = unknown> = { ok: true; result: T } | { ok: false; error: string };

export interface ControlClient {
  close(): Promise<void>;
}

export interface ControlClientOptions {
  socketPath: string;
  part: string;
  instance: string;
  logger: Logger;
  status: () => InstanceStatus;
  onDrain: () => void;
  /**
   * The supervisor is gone for good (its socket refused every reconnect). An instance started by
   * `netlab up` then shuts down instead of running on as an orphan.
   */
  onSupervisorLost: () => void;
}

/** How long closing the link may take at exit: net-ipc can wait forever on an unflushed write. */
const CLOSE_TIMEOUT_MS = 1000;

/**
 * Connects an instance to its supervisor. A failure to connect is logged and otherwise ignored:
 * the instance serves traffic either way.
 */
export async function connectControl(opts: ControlClientOptions): Promise<ControlClient> {
  const log = opts.logger.child({ component: 'control' });
  const client = new Client({ path: opts.socketPath, reconnect: true, retries: 3 });
  client.on('request', (req: InstanceRequest, respond: (data: unknown) => Promise<void>) => {
    if (req.op === 'status') void respond(opts.status());
  });
  client.on('message', (msg: InstanceBroadcast) => {
    if (msg.op === 'drain') {
      log.info('supervisor asked to drain');
      opts.onDrain();
    }
  });
  client.on('error', (err) => log.warn({ err }, 'control socket error'));
  let closing = false;
  // With reconnect on, net-ipc emits 'close' only once its retries are used up.
  client.on('close', () => {
    if (closing) return;
    log.warn('lost the supervisor; shutting down');
    opts.onSupervisorLost();
  });
  const hello: ControlHello = {
    kind: 'instance',
    part: opts.part,
    instance: opts.instance,
    pid: process.pid,
  };
  try {
    await client.connect(hello);
  } catch (err) {
    log.warn(
      { err, socket: opts.socketPath },
      'could not reach the supervisor; running unsupervised',
    );
  }
  return {
    close: async () => {
      closing = true;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        client.close('exit').catch(() => undefined),
        new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
    },
  };
}
