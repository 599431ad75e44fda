import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { CommandError, connectToLab, NoLabError, type LabClient } from './control-client';
import type {
  LabStatus,
  LogLineMessage,
  LogsResult,
  RestartResult,
  ScaleResult,
  StopResult,
} from './lab-protocol';
import { MAX_LOG_LINES } from './lab-protocol';
import { createLinePrinter } from './log-sink';
import { MAX_INSTANCES } from './manifest';
import { formatStatusTable } from './status-table';

export const USAGE = `Usage: netlab <command>

Commands:
  up                        start nats-server and every part; Ctrl-C stops them (make dev)
  status [--json]           parts, instances, pids, states, restarts, URLs
  stop                      stop the running lab gracefully
  restart <part>            restart a part's instances one after another (also: restart nats)
  scale <part> <n>          run n instances of a part (0 to ${MAX_INSTANCES})
  logs <part> [-n N] [-f]   the last N lines (default 50) of .lab/logs/<part>.log; -f follows
                            (parts: the manifest's, nats, netlab); --raw prints the JSON as is
  help                      this text

Environment: NETLAB_DIR (default <repo>/.lab); for up, see infra/lab/README.md.`;

export type CliCommand =
  | { name: 'up' }
  | { name: 'help' }
  | { name: 'status'; json: boolean }
  | { name: 'stop' }
  | { name: 'restart'; part: string }
  | { name: 'scale'; part: string; instances: number }
  | { name: 'logs'; part: string; lines: number; follow: boolean; raw: boolean };

export type ParsedArgs = { ok: true; command: CliCommand } | { ok: false; error: string };

const DEFAULT_LOG_LINES = 50;

function integerArg(text: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

/** Reads `argv` (without node and the script); never exits, so it is testable. */
export function parseCliArgs(argv: readonly string[]): ParsedArgs {
  const [name, ...rest] = argv;
  const fail = (error: string): ParsedArgs => ({ ok: false, error });
  const parse = <O extends ParseArgsOptionsConfig>(options: O, positionals: number) => {
    const parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
    if (parsed.positionals.length !== positionals) {
      throw new Error(
        `'${name}' takes ${positionals} argument${positionals === 1 ? '' : 's'}, got ${parsed.positionals.length}`,
      );
    }
    return parsed;
  };
  try {
    switch (name) {
      case undefined:
        return fail('no command given');
      case 'help':
      case '--help':
      case '-h':
        return { ok: true, command: { name: 'help' } };
      case 'up':
      case 'stop':
        parse({}, 0);
        return { ok: true, command: { name } };
      case 'status': {
        const { values } = parse({ json: { type: 'boolean' } }, 0);
        return { ok: true, command: { name, json: values.json === true } };
      }
      case 'restart': {
        const { positionals } = parse({}, 1);
        return { ok: true, command: { name, part: positionals[0] ?? '' } };
      }
      case 'scale': {
        const { positionals } = parse({}, 2);
        const instances = integerArg(positionals[1] ?? '', 0, MAX_INSTANCES);
        if (instances === undefined) {
          return fail(
            `scale: expected a number of instances from 0 to ${MAX_INSTANCES}, got '${positionals[1]}'`,
          );
        }
        return { ok: true, command: { name, part: positionals[0] ?? '', instances } };
      }
      case 'logs': {
        const { values, positionals } = parse(
          {
            lines: { type: 'string', short: 'n' },
            follow: { type: 'boolean', short: 'f' },
            raw: { type: 'boolean' },
          },
          1,
        );
        const linesText =
          typeof values.lines === 'string' ? values.lines : String(DEFAULT_LOG_LINES);
        const lines = integerArg(linesText, 0, MAX_LOG_LINES);
        if (lines === undefined) {
          return fail(`logs: -n expects a number from 0 to ${MAX_LOG_LINES}, got '${linesText}'`);
        }
        return {
          ok: true,
          command: {
            name,
            part: positionals[0] ?? '',
            lines,
            follow: values.follow === true,
            raw: values.raw === true,
          },
        };
      }
      default:
        return fail(`unknown command '${name}'`);
    }
  } catch (err) {
    return fail((err as Error).message);
  }
}

export interface CliDeps {
  socketPath: string;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  colorize: boolean;
  /** Resolves on Ctrl-C: ends `logs -f`. */
  interrupted: Promise<void>;
}

export const NO_LAB_MESSAGE = 'no lab is running (start one with `make dev`)';

/** Long operations (restart, scale) are bounded by the supervisor; this only guards against a hang. */
const LONG_REQUEST_MS = 10 * 60_000;
const SHORT_REQUEST_MS = 15_000;

function describeRestart(r: RestartResult): string {
  if (r.instances.length === 0) return `${r.part}: no instances to restart\n`;
  return r.instances
    .map(
      (i) =>
        `restarted ${i.name}: pid ${i.previousPid ?? '-'} -> ${i.pid ?? '-'}${i.ready ? '' : ' (not ready yet)'}\n`,
    )
    .join('');
}

function describeScale(r: ScaleResult): string {
  const changes = [
    r.started.length > 0 ? `started ${r.started.join(', ')}` : '',
    r.stopped.length > 0 ? `stopped ${r.stopped.join(', ')}` : '',
    r.notReady.length > 0 ? `not ready yet: ${r.notReady.join(', ')}` : '',
  ].filter((c) => c !== '');
  return `${r.part}: ${r.instances} instance${r.instances === 1 ? '' : 's'}${
    changes.length > 0 ? ` (${changes.join('; ')})` : ''
  }\n`;
}

async function followLogs(
  client: LabClient,
  command: Extract<CliCommand, { name: 'logs' }>,
  deps: CliDeps,
): Promise<void> {
  const printer = createLinePrinter(deps.colorize);
  const show = (line: string): string => (command.raw ? `${line}\n` : printer(command.part, line));
  // Lines that arrive before the tail has been printed wait for it.
  let early: string[] | undefined = [];
  if (command.follow) {
    client.onMessage((message: LogLineMessage) => {
      if (message.part !== command.part) return;
      if (early !== undefined) early.push(message.line);
      else deps.stdout.write(show(message.line));
    });
  }
  const result = await client.request<LogsResult>(
    { op: 'logs', part: command.part, lines: command.lines, follow: command.follow },
    SHORT_REQUEST_MS,
  );
  deps.stdout.write(result.lines.map(show).join(''));
  for (const line of early) deps.stdout.write(show(line));
  early = undefined;
  if (command.follow) await Promise.race([deps.interrupted, client.closed]);
}

/** Runs one command against the running lab; resolves the exit code. */
export async function runCli(
  command: Exclude<CliCommand, { name: 'up' }>,
  deps: CliDeps,
): Promise<number> {
  if (command.name === 'help') {
    deps.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let client: LabClient;
  try {
    client = await connectToLab(deps.socketPath);
  } catch (err) {
    if (err instanceof NoLabError) {
      deps.stderr.write(`${NO_LAB_MESSAGE}\n`);
      return 1;
    }
    deps.stderr.write(`netlab: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    switch (command.name) {
      case 'status': {
        const status = await client.request<LabStatus>({ op: 'status' }, SHORT_REQUEST_MS);
        deps.stdout.write(
          command.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatusTable(status),
        );
        return 0;
      }
      case 'stop': {
        const { pid } = await client.request<StopResult>({ op: 'stop' }, SHORT_REQUEST_MS);
        deps.stdout.write(`stopping the lab (supervisor pid ${pid})\n`);
        // The supervisor closes the connection once everything has stopped.
        await Promise.race([
          client.closed,
          new Promise((resolve) => setTimeout(resolve, LONG_REQUEST_MS).unref()),
        ]);
        deps.stdout.write('lab stopped\n');
        return 0;
      }
      case 'restart': {
        const result = await client.request<RestartResult>(
          { op: 'restart', part: command.part },
          LONG_REQUEST_MS,
        );
        deps.stdout.write(describeRestart(result));
        return result.instances.every((i) => i.ready) ? 0 : 1;
      }
      case 'scale': {
        const result = await client.request<ScaleResult>(
          { op: 'scale', part: command.part, instances: command.instances },
          LONG_REQUEST_MS,
        );
        deps.stdout.write(describeScale(result));
        return result.notReady.length === 0 ? 0 : 1;
      }
      case 'logs':
        await followLogs(client, command, deps);
        return 0;
    }
  } catch (err) {
    deps.stderr.write(
      `netlab: ${err instanceof CommandError ? err.message : (err as Error).message}\n`,
    );
    return 1;
  } finally {
    await client.close();
  }
}
