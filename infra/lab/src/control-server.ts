import { rmSync } from 'node:fs';
import type {
  ControlReply,
  InstanceBroadcast,
  InstanceRequest,
  InstanceStatus,
  Logger,
} from '@netlab/shared';
import { Server, type Connection } from 'net-ipc';
import { z } from 'zod';
import { labCommandSchema, type LabCommand, type LogLineMessage } from './lab-protocol';

/**
 * The supervisor's side of the control socket (`.lab/netlab.sock`): a net-ipc server that tells
 * instances from CLI clients by their hello. Instances are asked for their status one connection
 * at a time (`server.survey()` would ask the CLI connections too) and told to drain one by one.
 */

/** A connected instance, as the supervisor sees it. */
export interface InstanceLink {
  readonly part: string;
  readonly instance: string;
  readonly pid: number;
  /** The instance's own report, or null when it does not answer within `timeoutMs`. */
  status(timeoutMs: number): Promise<InstanceStatus | null>;
  /** Sends the drain message; false when it could not be delivered. */
  drain(): Promise<boolean>;
}

/** A connected CLI. */
export interface CliLink {
  readonly id: string;
  send(message: LogLineMessage): Promise<boolean>;
  /** Runs `cleanup` when this CLI disconnects (or at once if it already has). */
  onClose(cleanup: () => void): void;
}

export interface ControlHandlers {
  instanceConnected(link: InstanceLink): void;
  instanceDisconnected(link: InstanceLink): void;
  /** Resolves the command's result; a thrown error's message goes back to the CLI. */
  command(command: LabCommand, cli: CliLink): Promise<unknown>;
}

export interface ControlServer {
  start(): Promise<void>;
  /** Disconnects everyone, stops listening and removes the socket file. */
  close(): Promise<void>;
}

const helloSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('instance'),
    part: z.string(),
    instance: z.string(),
    pid: z.number().int(),
  }),
  z.object({ kind: z.literal('cli') }),
]);

/** net-ipc resolves (rather than rejects) some failed writes with an Error. */
async function delivered(write: Promise<unknown>): Promise<boolean> {
  try {
    return !((await write) instanceof Error);
  } catch {
    return false;
  }
}

/** How long `close` waits for clients to say goodbye before it cuts them off. */
const CLOSE_TIMEOUT_MS = 2_000;

export function createControlServer(opts: {
  socketPath: string;
  handlers: ControlHandlers;
  logger: Logger;
}): ControlServer {
  const log = opts.logger.child({ component: 'control' });
  const server = new Server({ path: opts.socketPath });
  const instances = new Map<string, InstanceLink>();
  const clis = new Map<string, { link: CliLink; cleanups: (() => void)[]; closed: boolean }>();

  const instanceLink = (
    connection: Connection,
    hello: { part: string; instance: string; pid: number },
  ): InstanceLink => ({
    ...hello,
    async status(timeoutMs) {
      const request: InstanceRequest = { op: 'status' };
      try {
        const reply = (await connection.request(request, timeoutMs)) as InstanceStatus | undefined;
        return reply ?? null;
      } catch {
        return null;
      }
    },
    drain() {
      const message: InstanceBroadcast = { op: 'drain' };
      return delivered(connection.send(message));
    },
  });

  const cliLink = (connection: Connection): CliLink => {
    const entry = {
      closed: false,
      cleanups: [] as (() => void)[],
      link: {
        id: connection.id,
        send: (message: LogLineMessage) => delivered(connection.send(message)),
        onClose(cleanup: () => void) {
          if (entry.closed) cleanup();
          else entry.cleanups.push(cleanup);
        },
      },
    };
    clis.set(connection.id, entry);
    return entry.link;
  };

  server.on('connect', (connection: Connection, payload: unknown) => {
    const hello = helloSchema.safeParse(payload);
    if (!hello.success) {
      log.warn({ payload }, 'unknown client on the control socket; closing it');
      void connection.close('expected a netlab hello');
      return;
    }
    if (hello.data.kind === 'cli') {
      cliLink(connection);
      return;
    }
    const link = instanceLink(connection, hello.data);
    instances.set(connection.id, link);
    log.debug({ instance: link.instance, pid: link.pid }, 'instance connected');
    opts.handlers.instanceConnected(link);
  });

  server.on('disconnect', (connection: Connection) => {
    const link = instances.get(connection.id);
    if (link !== undefined) {
      instances.delete(connection.id);
      opts.handlers.instanceDisconnected(link);
    }
    const cli = clis.get(connection.id);
    if (cli !== undefined) {
      clis.delete(connection.id);
      cli.closed = true;
      for (const cleanup of cli.cleanups.splice(0)) cleanup();
    }
  });

  server.on(
    'request',
    (request: unknown, respond: (data: ControlReply) => Promise<void>, connection: Connection) => {
      const cli = clis.get(connection.id);
      const reply = async (): Promise<ControlReply> => {
        if (cli === undefined) return { ok: false, error: 'only the netlab CLI sends commands' };
        const command = labCommandSchema.safeParse(request);
        if (!command.success) {
          return { ok: false, error: `invalid command: ${command.error.issues[0]?.message ?? ''}` };
        }
        try {
          return { ok: true, result: await opts.handlers.command(command.data, cli.link) };
        } catch (err) {
          return { ok: false, error: (err as Error).message };
        }
      };
      void reply().then((r) => delivered(respond(r)));
    },
  );

  server.on('error', (err: unknown) => log.debug({ err }, 'control connection error'));

  return {
    async start() {
      await server.start();
      log.debug({ socket: opts.socketPath }, 'control socket listening');
    },
    async close() {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      });
      // net-ipc waits for pending writes to drain; a CLI that stopped reading must not hold us.
      await Promise.race([server.close(), timeout]);
      clearTimeout(timer);
      for (const connection of [...server.connections]) connection.destroy('supervisor exiting');
      rmSync(opts.socketPath, { force: true });
    },
  };
}
