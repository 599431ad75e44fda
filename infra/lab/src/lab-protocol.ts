import type { ControlCommand, InstanceStatus } from '@netlab/shared';
import { z } from 'zod';
import { MAX_INSTANCES } from './manifest';

/**
 * What the CLI and the supervisor say to each other over the control socket: the shared
 * {@link ControlCommand}, checked with a schema on arrival, and the results of each command.
 */

/** The most lines `logs -n` returns: the tail is read into memory. */
export const MAX_LOG_LINES = 10_000;

/** Commands arrive over a socket, so the supervisor checks their shape before acting. */
export const labCommandSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('status') }),
  z.object({ op: z.literal('stop') }),
  z.object({ op: z.literal('restart'), part: z.string().min(1) }),
  z.object({
    op: z.literal('scale'),
    part: z.string().min(1),
    instances: z.number().int().min(0).max(MAX_INSTANCES),
  }),
  z.object({
    op: z.literal('logs'),
    part: z.string().min(1),
    lines: z.number().int().min(0).max(MAX_LOG_LINES),
    follow: z.boolean().optional(),
  }),
]);

/** The shared {@link ControlCommand}; the schema above must accept exactly its shape. */
export type LabCommand = ControlCommand;
export type { LogLineMessage } from '@netlab/shared';

// Fails to compile when the schema and the shared type drift apart.
const schemaMatchesProtocol: (c: z.infer<typeof labCommandSchema>) => ControlCommand = (c) => c;
void schemaMatchesProtocol;

export type ProcessState = 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped';

export interface InstanceReport {
  name: string;
  part: string;
  pid: number | null;
  state: ProcessState;
  /** Restarts after a crash (an exit the supervisor did not ask for). */
  restarts: number;
  uptimeMs: number | null;
  url: string;
  /** Where /readyz is probed, when it is not on `url`'s port. */
  healthUrl: string | null;
  /** Asked of the instance over the control socket; null when it is not connected or silent. */
  live: InstanceStatus | null;
}

export interface PartReport {
  name: string;
  instances: InstanceReport[];
}

export interface NatsReport {
  pid: number | null;
  state: ProcessState;
  restarts: number;
  uptimeMs: number | null;
  url: string | null;
  monitorUrl: string | null;
}

export interface LabStatus {
  supervisor: { pid: number; dir: string; uptimeMs: number; stopping: boolean };
  nats: NatsReport;
  parts: PartReport[];
}

export interface RestartResult {
  part: string;
  instances: { name: string; previousPid: number | null; pid: number | null; ready: boolean }[];
}

export interface ScaleResult {
  part: string;
  instances: number;
  started: string[];
  stopped: string[];
  notReady: string[];
}

export interface LogsResult {
  part: string;
  file: string;
  lines: string[];
}

export interface StopResult {
  pid: number;
}
