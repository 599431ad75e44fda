import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  createLogger,
  ensureEventsStreamAt,
  hasExited,
  isNatsUser,
  natsPasswordEnv,
  natsServerArgs,
  spawnNatsServer,
  type Logger,
  type NatsUser,
} from '@netlab/shared';
import { labPaths, MAX_SOCKET_PATH_BYTES, type LabConfig } from './config';
import { probeSocket } from './control-client';
import {
  createControlServer,
  type CliLink,
  type ControlServer,
  type InstanceLink,
} from './control-server';
import { findFreePort } from './free-port';
import type {
  InstanceReport,
  LabCommand,
  LabStatus,
  LogsResult,
  ProcessState,
  RestartResult,
  ScaleResult,
  StopResult,
} from './lab-protocol';
import { createLineSplitter } from './line-splitter';
import { createLogSink, type LogSink } from './log-sink';
import { entryPath, RESERVED_PART_NAMES, type PartDefinition } from './manifest';
import { INSTANCE_HOST, instanceEnv, spawnInstance, type InstancePlan } from './part-process';
import {
  procCommandLine,
  reapOrphans,
  removePidFile,
  writePidFile,
  type PidRecord,
} from './pid-file';
import { isAlive, signalGroup, stopProcess } from './process-stop';
import { waitUntilReady } from './readiness';
import {
  consecutiveCrashes,
  DEFAULT_BACKOFF,
  restartDelayMs,
  type BackoffPolicy,
} from './restart-backoff';
import { formatStatusTable } from './status-table';

/**
 * `netlab up`: owns nats-server and every instance of every part, keeps them running (restarting
 * crashes with backoff), answers the CLI over the control socket, and stops it all in order.
 * Restart and scale run one at a time; start-up counts as one of them.
 */
export interface SupervisorDeps {
  config: LabConfig;
  repoRoot: string;
  parts: readonly PartDefinition[];
  natsBin: string;
  natsConfigFile: string;
  /**
   * Passwords of the users of the secured configuration (infra/nats/nats.conf), new for each
   * `up`: nats-server reads them from its environment, each part gets its own user's (a part
   * with no user of its own, e.g. a test fixture, gets `admin`'s). Unset: no credentials.
   */
  natsPasswords?: Readonly<Record<NatsUser, string>>;
  /** The node that runs the parts (process.execPath: the same Node 24 as the supervisor). */
  nodeBin: string;
  /** Passed on to the parts, under what the lab sets. */
  inheritedEnv: Readonly<Record<string, string | undefined>>;
  /** The terminal: the parts' logs and the status table. */
  out: { write(text: string): unknown };
  /** Refusals and start-up failures, before the logs exist. */
  err: { write(text: string): unknown };
  colorize: boolean;
  backoff?: BackoffPolicy;
}

export interface Supervisor {
  /** Starts the lab; resolves with the exit code once it has stopped (1 if it could not start). */
  run(): Promise<number>;
  /** Stops everything gracefully, in reverse start order, nats-server last. */
  stop(reason: string): Promise<void>;
  /** The second Ctrl-C: SIGKILL every child at once. Synchronous, for process 'exit' too. */
  killAll(): void;
  isStopping(): boolean;
}

/** What the supervisor tracks of every child it keeps running: an instance or nats-server. */
interface SupervisedProcess {
  proc: ChildProcess | undefined;
  state: ProcessState;
  restarts: number;
  /** Crashes in a row, for the backoff. */
  crashes: number;
  startedAt: number | undefined;
  /** False once the supervisor asked it to stop: its exit is then no crash. */
  wanted: boolean;
  restartTimer: NodeJS.Timeout | undefined;
}

interface Instance extends SupervisedProcess {
  readonly plan: InstancePlan;
  readonly index: number;
  link: InstanceLink | undefined;
  readyWaiters: Set<(ready: boolean) => void>;
}

interface PartState {
  readonly def: PartDefinition;
  readonly instances: Instance[];
}

interface NatsState extends SupervisedProcess {
  /** Fixed by the first start, so that a restarted server keeps the URL the parts know. */
  port: number | undefined;
  monitorPort: number | undefined;
}

const NATS_START_TIMEOUT_MS = 10_000;
const NATS_INFO = /\[(INF|DBG|TRC)\]/;
const STATUS_TIMEOUT_MS = 1_000;
/** After the ready timeout, readiness is still polled (slowly) for this long. */
const LATE_READY_WINDOW_MS = 10 * 60_000;
/** A part that crashes this often in a row before it is ready fails `up`/`scale` fast. */
const CRASHES_BEFORE_GIVING_UP_WAIT = 3;
/** Follow messages queued for one slow CLI before lines are dropped. */
const MAX_PENDING_FOLLOW = 1_000;

export function createSupervisor(deps: SupervisorDeps): Supervisor {
  const { config } = deps;
  const paths = labPaths(config.labDir);
  const backoff = deps.backoff ?? DEFAULT_BACKOFF;
  const parts: PartState[] = deps.parts
    .filter((def) => def.enabled)
    .map((def) => ({ def, instances: [] }));
  const nats: NatsState = {
    proc: undefined,
    state: 'stopped',
    restarts: 0,
    crashes: 0,
    startedAt: undefined,
    wanted: true,
    restartTimer: undefined,
    port: undefined,
    monitorPort: undefined,
  };
  const usedPorts = new Set<number>();
  const startedAt = Date.now();
  let sink: LogSink | undefined;
  let log: Logger | undefined;
  let control: ControlServer | undefined;
  let controlReady: Promise<void> | undefined;
  let stopping = false;
  let stopPromise: Promise<void> | undefined;
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  let operations: Promise<unknown> = Promise.resolve();

  const logger = (): Logger => {
    if (log === undefined) throw new Error('the supervisor has not started');
    return log;
  };
  const natsCredentials = (part: string): { user: string; password: string } | undefined => {
    if (deps.natsPasswords === undefined) return undefined;
    const user = isNatsUser(part) ? part : 'admin';
    return { user, password: deps.natsPasswords[user] };
  };
  const natsUrl = (): string => `nats://${INSTANCE_HOST}:${nats.port ?? config.natsPort}`;
  const partNames = (): string[] => parts.map((p) => p.def.name);

  /** Restart and scale run one at a time; stop does not wait for them (it ends them). */
  const exclusive = <T>(operation: () => Promise<T>): Promise<T> => {
    const next = operations.then(operation, operation);
    operations = next.catch(() => undefined);
    return next;
  };

  const savePids = (): void => {
    const records: PidRecord[] = [];
    if (nats.proc?.pid !== undefined) {
      records.push({ pid: nats.proc.pid, name: 'nats', command: deps.natsBin });
    }
    for (const part of parts) {
      for (const inst of part.instances) {
        if (inst.proc?.pid !== undefined) {
          records.push({
            pid: inst.proc.pid,
            name: inst.plan.name,
            command: entryPath(part.def, deps.repoRoot),
          });
        }
      }
    }
    try {
      writePidFile(paths.pidFile, process.pid, records);
    } catch (err) {
      log?.warn({ err }, 'could not write the pid file');
    }
  };

  const freePort = async (): Promise<number> => {
    // The same port twice would make two instances fight over it; a few tries are plenty.
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const port = await findFreePort(INSTANCE_HOST);
      if (!usedPorts.has(port)) return port;
    }
    throw new Error('could not find a free port');
  };

  const readinessUrl = (plan: InstancePlan): string =>
    `http://${INSTANCE_HOST}:${plan.healthPort ?? plan.port}${plan.part.readinessPath}`;

  const notifyWaiters = (inst: Instance, ready: boolean): void => {
    for (const waiter of [...inst.readyWaiters]) waiter(ready);
  };

  /** True once the instance is running (ready), false on timeout, stop or a crash loop. */
  const awaitReady = (inst: Instance, timeoutMs: number): Promise<boolean> => {
    if (inst.state === 'running') return Promise.resolve(true);
    if (stopping || !inst.wanted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = (ready: boolean): void => {
        clearTimeout(timer);
        inst.readyWaiters.delete(waiter);
        resolve(ready);
      };
      const timer = setTimeout(() => waiter(false), timeoutMs);
      inst.readyWaiters.add(waiter);
    });
  };

  const watchReadiness = async (inst: Instance, proc: ChildProcess): Promise<void> => {
    const url = readinessUrl(inst.plan);
    const isCancelled = (): boolean =>
      stopping || inst.proc !== proc || hasExited(proc) || inst.state !== 'starting';
    let outcome = await waitUntilReady(url, { timeoutMs: config.readyTimeoutMs, isCancelled });
    if (outcome === 'timeout') {
      logger().warn(
        { child: inst.plan.name, url, timeoutMs: config.readyTimeoutMs },
        `${inst.plan.name} is not ready yet; still waiting`,
      );
      outcome = await waitUntilReady(url, {
        timeoutMs: LATE_READY_WINDOW_MS,
        intervalMs: 2_000,
        isCancelled,
      });
    }
    if (outcome !== 'ready') return;
    inst.state = 'running';
    logger().info({ child: inst.plan.name, childPid: proc.pid, url }, `${inst.plan.name} is ready`);
    notifyWaiters(inst, true);
  };

  const onInstanceExit = (
    inst: Instance,
    proc: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void => {
    if (inst.proc !== proc) return;
    const upMs = Date.now() - (inst.startedAt ?? Date.now());
    inst.proc = undefined;
    inst.link = undefined;
    inst.startedAt = undefined;
    savePids();
    if (!inst.wanted || stopping) {
      inst.state = 'stopped';
      logger().info(
        { child: inst.plan.name, childPid: proc.pid, code, signal },
        `${inst.plan.name} exited`,
      );
      return;
    }
    inst.crashes = consecutiveCrashes(inst.crashes, upMs, backoff);
    inst.restarts += 1;
    inst.state = 'restarting';
    const delayMs = restartDelayMs(inst.crashes, backoff);
    logger().error(
      { child: inst.plan.name, childPid: proc.pid, code, signal, restarts: inst.restarts, delayMs },
      `${inst.plan.name} exited unexpectedly; restarting it`,
    );
    if (inst.crashes >= CRASHES_BEFORE_GIVING_UP_WAIT) notifyWaiters(inst, false);
    inst.restartTimer = setTimeout(() => {
      inst.restartTimer = undefined;
      launch(inst);
    }, delayMs);
  };

  const launch = (inst: Instance): void => {
    if (stopping || !inst.wanted) return;
    const { plan } = inst;
    const env = instanceEnv(plan, {
      repoRoot: deps.repoRoot,
      labDir: config.labDir,
      natsUrl: natsUrl(),
      natsMonitorUrl:
        nats.monitorPort === undefined ? undefined : `http://${INSTANCE_HOST}:${nats.monitorPort}`,
      controlSocket: paths.socket,
      logLevel: config.logLevel,
      inherited: deps.inheritedEnv,
      natsCredentials: natsCredentials(plan.part.name),
    });
    const proc = spawnInstance(plan, {
      nodeBin: deps.nodeBin,
      repoRoot: deps.repoRoot,
      env,
      onLines: (lines) => sink?.write(plan.part.name, plan.name, lines),
    });
    inst.proc = proc;
    inst.state = 'starting';
    inst.startedAt = Date.now();
    inst.link = undefined;
    let ended = false;
    const onEnd = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (ended) return;
      ended = true;
      onInstanceExit(inst, proc, code, signal);
    };
    proc.once('exit', onEnd);
    proc.once('error', (err) => {
      logger().error({ err, child: plan.name }, `could not start ${plan.name}`);
      // 'exit' may not follow a spawn error.
      if (proc.pid === undefined) onEnd(null, null);
    });
    savePids();
    logger().info(
      { child: plan.name, childPid: proc.pid, port: plan.port },
      `${plan.name} started`,
    );
    void watchReadiness(inst, proc);
  };

  const stopInstance = (inst: Instance): Promise<void> => {
    inst.wanted = false;
    clearTimeout(inst.restartTimer);
    inst.restartTimer = undefined;
    notifyWaiters(inst, false);
    const proc = inst.proc;
    if (proc === undefined || hasExited(proc)) {
      inst.state = 'stopped';
      return Promise.resolve();
    }
    // A stop of the lab can overlap a restart or scale-down of the same instance: one stop each.
    let pending = stopsInProgress.get(proc);
    if (pending === undefined) {
      pending = stopRunningInstance(inst, proc).finally(() => stopsInProgress.delete(proc));
      stopsInProgress.set(proc, pending);
    }
    return pending;
  };

  const stopRunningInstance = async (inst: Instance, proc: ChildProcess): Promise<void> => {
    inst.state = 'stopping';
    const how = await stopProcess(proc, {
      graceMs: config.stopGraceMs,
      // The drain message when the instance is connected, SIGTERM otherwise; never both, since a
      // second request to stop makes the shared lifecycle exit at once.
      askToStop: async () => (inst.link === undefined ? false : inst.link.drain()),
    });
    if (how === 'killed') {
      logger().warn(
        { child: inst.plan.name, graceMs: config.stopGraceMs },
        `${inst.plan.name} did not exit within the grace period; killed it`,
      );
    }
    inst.state = 'stopped';
  };

  const stopsInProgress = new Map<ChildProcess, Promise<void>>();

  const addInstance = async (part: PartState, index: number): Promise<Instance> => {
    const { def } = part;
    const port = index === 1 && def.port !== 0 ? def.port : await freePort();
    usedPorts.add(port);
    let healthPort: number | undefined;
    if (def.healthPortEnv !== undefined) {
      healthPort = index === 1 && (def.healthPort ?? 0) !== 0 ? def.healthPort : await freePort();
      if (healthPort !== undefined) usedPorts.add(healthPort);
    }
    const inst: Instance = {
      plan: { part: def, name: `${def.name}-${index}`, port, healthPort },
      index,
      proc: undefined,
      state: 'stopped',
      restarts: 0,
      crashes: 0,
      startedAt: undefined,
      wanted: true,
      restartTimer: undefined,
      link: undefined,
      readyWaiters: new Set(),
    };
    part.instances.push(inst);
    part.instances.sort((a, b) => a.index - b.index);
    return inst;
  };

  const removeInstance = (part: PartState, inst: Instance): void => {
    const at = part.instances.indexOf(inst);
    if (at >= 0) part.instances.splice(at, 1);
    usedPorts.delete(inst.plan.port);
    if (inst.plan.healthPort !== undefined) usedPorts.delete(inst.plan.healthPort);
  };

  /** Starts instances until the part has `count`, lowest free index first; waits for them. */
  const growPart = async (
    part: PartState,
    count: number,
  ): Promise<{ started: Instance[]; notReady: string[] }> => {
    const started: Instance[] = [];
    while (part.instances.length < count && !stopping) {
      const taken = new Set(part.instances.map((i) => i.index));
      let index = 1;
      while (taken.has(index)) index += 1;
      const inst = await addInstance(part, index);
      launch(inst);
      started.push(inst);
    }
    const ready = await Promise.all(started.map((inst) => awaitReady(inst, config.readyTimeoutMs)));
    const notReady = started.filter((_inst, i) => ready[i] !== true).map((inst) => inst.plan.name);
    return { started, notReady };
  };

  const natsSplitter = createLineSplitter((lines) => sink?.write('nats', 'nats', lines));

  /** The start in progress, which a stop must wait for (or it would leave the server running). */
  let natsStarting: Promise<void> | undefined;

  const startNats = (): Promise<void> => {
    const attempt = spawnNats();
    natsStarting = attempt;
    return attempt;
  };

  const spawnNats = async (): Promise<void> => {
    const started = await spawnNatsServer({
      bin: deps.natsBin,
      args: natsServerArgs({
        configFile: deps.natsConfigFile,
        host: INSTANCE_HOST,
        port: nats.port ?? config.natsPort,
        monitorPort: nats.monitorPort ?? config.natsMonitorPort,
        storeDir: paths.natsStore,
      }),
      timeoutMs: NATS_START_TIMEOUT_MS,
      ...(deps.natsPasswords === undefined
        ? {}
        : { env: { ...deps.inheritedEnv, ...natsPasswordEnv(deps.natsPasswords) } }),
      onOutput: (chunk) => natsSplitter.push(chunk),
      detached: true,
    });
    nats.proc = started.proc;
    nats.port = started.port;
    nats.monitorPort = started.monitorPort;
    usedPorts.add(started.port);
    if (started.monitorPort !== undefined) usedPorts.add(started.monitorPort);
    nats.state = 'running';
    nats.startedAt = Date.now();
    savePids();
    started.proc.once('exit', (code, signal) => onNatsExit(started.proc, code, signal));
    logger().info(
      { childPid: started.pid, url: natsUrl(), monitorPort: started.monitorPort },
      'nats-server is ready',
    );
    // Before any part starts, so that their first `up` events are kept.
    const admin = natsCredentials('admin');
    await ensureEventsStreamAt({
      servers: natsUrl(),
      user: admin?.user,
      password: admin?.password,
    }).catch((err: unknown) =>
      logger().warn({ err }, 'could not create the events stream; events will have no history'),
    );
  };

  const scheduleNatsRestart = (): void => {
    const delayMs = restartDelayMs(nats.crashes, backoff);
    nats.state = 'restarting';
    nats.restartTimer = setTimeout(() => {
      nats.restartTimer = undefined;
      if (stopping || !nats.wanted) return;
      startNats().catch((err: unknown) => {
        nats.crashes += 1;
        logger().error({ err }, 'nats-server did not start again; trying later');
        scheduleNatsRestart();
      });
    }, delayMs);
  };

  const onNatsExit = (
    proc: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void => {
    if (nats.proc !== proc) return;
    const upMs = Date.now() - (nats.startedAt ?? Date.now());
    nats.proc = undefined;
    nats.startedAt = undefined;
    savePids();
    if (!nats.wanted || stopping) {
      nats.state = 'stopped';
      logger().info({ childPid: proc.pid, code, signal }, 'nats-server exited');
      return;
    }
    nats.crashes = consecutiveCrashes(nats.crashes, upMs, backoff);
    nats.restarts += 1;
    logger().error(
      { childPid: proc.pid, code, signal, restarts: nats.restarts },
      'nats-server exited unexpectedly; restarting it',
    );
    scheduleNatsRestart();
  };

  const stopNats = async (): Promise<void> => {
    nats.wanted = false;
    clearTimeout(nats.restartTimer);
    nats.restartTimer = undefined;
    await natsStarting?.catch(() => undefined);
    const proc = nats.proc;
    if (proc === undefined || hasExited(proc)) {
      nats.state = 'stopped';
      return;
    }
    nats.state = 'stopping';
    // nats-server shuts down the same way on both, but exits 1 on SIGTERM and 0 on SIGINT.
    await stopProcess(proc, { graceMs: config.stopGraceMs, signal: 'SIGINT' });
    nats.state = 'stopped';
  };

  const partByName = (name: string): PartState => {
    const part = parts.find((p) => p.def.name === name);
    if (part === undefined) {
      throw new Error(`unknown part '${name}' (parts: ${['nats', ...partNames()].join(', ')})`);
    }
    return part;
  };

  const report = async (inst: Instance): Promise<InstanceReport> => {
    const { plan } = inst;
    return {
      name: plan.name,
      part: plan.part.name,
      pid: inst.proc?.pid ?? null,
      state: inst.state,
      restarts: inst.restarts,
      uptimeMs: inst.startedAt === undefined ? null : Date.now() - inst.startedAt,
      url: `${plan.part.scheme}://${INSTANCE_HOST}:${plan.port}`,
      healthUrl:
        plan.healthPort === undefined ? null : `http://${INSTANCE_HOST}:${plan.healthPort}`,
      live: inst.link === undefined ? null : await inst.link.status(STATUS_TIMEOUT_MS),
    };
  };

  const status = async (): Promise<LabStatus> => ({
    supervisor: {
      pid: process.pid,
      dir: config.labDir,
      uptimeMs: Date.now() - startedAt,
      stopping,
    },
    nats: {
      pid: nats.proc?.pid ?? null,
      state: nats.state,
      restarts: nats.restarts,
      uptimeMs: nats.startedAt === undefined ? null : Date.now() - nats.startedAt,
      url: nats.port === undefined ? null : natsUrl(),
      monitorUrl:
        nats.monitorPort === undefined ? null : `http://${INSTANCE_HOST}:${nats.monitorPort}`,
    },
    parts: await Promise.all(
      parts.map(async (p) => ({
        name: p.def.name,
        instances: await Promise.all(p.instances.map(report)),
      })),
    ),
  });

  const restartPart = async (name: string): Promise<RestartResult> => {
    if (name === 'nats') {
      const previousPid = nats.proc?.pid ?? null;
      await stopNats();
      if (stopping) throw new Error('the lab is stopping');
      nats.wanted = true;
      nats.crashes = 0;
      await startNats().catch((err: unknown) => {
        // Down is no state to leave NATS in: keep trying, as after a crash.
        nats.crashes = 1;
        scheduleNatsRestart();
        throw err;
      });
      return {
        part: 'nats',
        instances: [{ name: 'nats', previousPid, pid: nats.proc?.pid ?? null, ready: true }],
      };
    }
    const part = partByName(name);
    const result: RestartResult = { part: name, instances: [] };
    // One after another, so that the part keeps serving while it restarts.
    for (const inst of [...part.instances]) {
      if (stopping) throw new Error('the lab is stopping');
      const previousPid = inst.proc?.pid ?? null;
      await stopInstance(inst);
      inst.wanted = true;
      inst.crashes = 0;
      launch(inst);
      const ready = await awaitReady(inst, config.readyTimeoutMs);
      result.instances.push({
        name: inst.plan.name,
        previousPid,
        pid: inst.proc?.pid ?? null,
        ready,
      });
    }
    return result;
  };

  const scalePart = async (name: string, count: number): Promise<ScaleResult> => {
    if (name === 'nats') throw new Error('nats runs exactly one server');
    const part = partByName(name);
    if (stopping) throw new Error('the lab is stopping');
    const result: ScaleResult = {
      part: name,
      instances: count,
      started: [],
      stopped: [],
      notReady: [],
    };
    if (part.instances.length < count) {
      const grown = await growPart(part, count);
      result.started = grown.started.map((i) => i.plan.name);
      result.notReady = grown.notReady;
    } else if (part.instances.length > count) {
      const surplus = part.instances.slice(count).reverse();
      await Promise.all(surplus.map((inst) => stopInstance(inst)));
      for (const inst of surplus) removeInstance(part, inst);
      result.stopped = surplus.map((i) => i.plan.name);
    }
    result.instances = part.instances.length;
    return result;
  };

  const logs = (name: string, lines: number, follow: boolean, cli: CliLink): LogsResult => {
    const known = [...RESERVED_PART_NAMES, ...partNames()];
    if (!known.includes(name)) {
      throw new Error(`unknown part '${name}' (logs: ${known.join(', ')})`);
    }
    const out = sink;
    if (out === undefined) throw new Error('the lab is not running');
    // Tail and subscription in the same tick: no line is missed or repeated (see tailLines).
    const result: LogsResult = { part: name, file: out.file(name), lines: out.tail(name, lines) };
    if (follow) {
      let pending = 0;
      let dropped = 0;
      const forward = (line: string): void => {
        if (pending >= MAX_PENDING_FOLLOW) {
          dropped += 1;
          return;
        }
        if (dropped > 0) {
          const note = `[netlab: ${dropped} lines dropped; the reader is too slow]`;
          dropped = 0;
          forward(note);
        }
        pending += 1;
        void cli.send({ op: 'log', part: name, line }).finally(() => {
          pending -= 1;
        });
      };
      cli.onClose(out.follow(name, forward));
    }
    return result;
  };

  const command = async (cmd: LabCommand, cli: CliLink): Promise<unknown> => {
    switch (cmd.op) {
      case 'status':
        return status();
      case 'stop': {
        // Answer first: the CLI then waits for the connection to close when all is stopped.
        setImmediate(() => void supervisor.stop('netlab stop'));
        const result: StopResult = { pid: process.pid };
        return result;
      }
      case 'restart':
        return exclusive(() => restartPart(cmd.part));
      case 'scale':
        return exclusive(() => scalePart(cmd.part, cmd.instances));
      case 'logs':
        return logs(cmd.part, cmd.lines, 'follow' in cmd && cmd.follow === true, cli);
    }
  };

  const onInstanceConnected = (link: InstanceLink): void => {
    const inst = parts
      .find((p) => p.def.name === link.part)
      ?.instances.find((i) => i.plan.name === link.instance);
    // A late hello from a process that has since been replaced is ignored.
    if (inst?.proc?.pid !== link.pid) return;
    inst.link = link;
  };

  const onInstanceDisconnected = (link: InstanceLink): void => {
    for (const part of parts) {
      for (const inst of part.instances) if (inst.link === link) inst.link = undefined;
    }
  };

  const checkBeforeStart = async (): Promise<string | undefined> => {
    if (Buffer.byteLength(paths.socket) > MAX_SOCKET_PATH_BYTES) {
      return `the control socket path ${paths.socket} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; set NETLAB_DIR to a shorter directory`;
    }
    const missing = parts
      .map((p) => entryPath(p.def, deps.repoRoot))
      .filter((entry) => !existsSync(entry))
      .map((entry) => relative(deps.repoRoot, entry) || entry);
    if (missing.length > 0) {
      return `not built yet: ${missing.join(', ')}; run \`make build\` (or \`npm run build\`) first`;
    }
    const socket = await probeSocket(paths.socket);
    if (socket === 'answering') {
      return `a lab is already running in ${config.labDir} (its supervisor answers on ${paths.socket}); stop it with \`netlab stop\``;
    }
    if (socket === 'stale') rmSync(paths.socket, { force: true });
    return undefined;
  };

  const startLab = async (): Promise<void> => {
    mkdirSync(paths.logs, { recursive: true });
    mkdirSync(paths.natsStore, { recursive: true });
    if (deps.natsPasswords !== undefined) {
      // For people and tools: `set -a; . .lab/nats.env; set +a; nats server info`.
      writeFileSync(
        join(paths.dir, 'nats.env'),
        `NATS_USER=admin\nNATS_PASSWORD=${deps.natsPasswords.admin}\n`,
        { mode: 0o600 },
      );
    }
    const reaped = reapOrphans(paths.pidFile, {
      isAlive,
      commandLineOf: procCommandLine,
      kill: (pid) => void signalGroup(pid, 'SIGKILL'),
    });
    const natsQuiet = !['debug', 'trace'].includes(config.logLevel);
    const out = createLogSink({
      dir: paths.logs,
      out: deps.out,
      colorize: deps.colorize,
      // nats-server's banner and informational lines stay in nats.log unless debugging.
      showOnTerminal: (part, line) => !(natsQuiet && part === 'nats' && NATS_INFO.test(line)),
    });
    sink = out;
    const selfSplitter = createLineSplitter((lines) => out.write('netlab', 'netlab', lines));
    log = createLogger({
      service: 'netlab',
      instance: 'netlab',
      level: config.logLevel,
      destination: { write: (line: string) => selfSplitter.push(line) },
    });
    for (const r of reaped) {
      logger().warn(
        { child: r.name, childPid: r.pid },
        `killed ${r.name}, left running by a previous supervisor`,
      );
    }
    control = createControlServer({
      socketPath: paths.socket,
      logger: logger(),
      handlers: {
        instanceConnected: onInstanceConnected,
        instanceDisconnected: onInstanceDisconnected,
        command,
      },
    });
    controlReady = control.start();
    await controlReady;
    logger().info({ dir: config.labDir, socket: paths.socket }, 'supervisor started');
    if (stopping) return;
    // Start-up is an operation like scale: a `scale` sent meanwhile waits for it to finish.
    await exclusive(async () => {
      await startNats();
      for (const part of parts) {
        if (stopping) return;
        const { notReady } = await growPart(part, part.def.instances);
        for (const name of notReady) {
          if (!stopping) logger().warn({ child: name }, `${name} is not ready; carrying on`);
        }
      }
    });
  };

  const supervisor: Supervisor = {
    async run() {
      const refusal = await checkBeforeStart();
      if (refusal !== undefined) {
        deps.err.write(`netlab: ${refusal}\n`);
        return 1;
      }
      if (stopping) return 0;
      let exitCode = 0;
      try {
        await startLab();
        if (!stopping) deps.out.write(`\n${formatStatusTable(await status())}\n`);
      } catch (err) {
        exitCode = 1;
        if (log === undefined) deps.err.write(`netlab: ${(err as Error).message}\n`);
        else logger().error({ err }, 'the lab could not start; stopping what did');
        void supervisor.stop('start-up failed');
      }
      await stopped;
      return exitCode;
    },

    stop(reason) {
      stopPromise ??= (async () => {
        stopping = true;
        log?.info({ reason }, 'stopping the lab');
        for (const part of parts) for (const inst of part.instances) notifyWaiters(inst, false);
        // Reverse start order; the instances of one part stop together.
        for (const part of [...parts].reverse()) {
          await Promise.all([...part.instances].reverse().map((inst) => stopInstance(inst)));
        }
        await stopNats();
        log?.info('lab stopped');
        await controlReady?.catch(() => undefined);
        await control?.close();
        removePidFile(paths.pidFile);
        sink?.close();
        resolveStopped();
      })();
      return stopPromise;
    },

    killAll() {
      stopping = true;
      for (const part of parts) {
        for (const inst of part.instances) {
          clearTimeout(inst.restartTimer);
          if (inst.proc?.pid !== undefined && !hasExited(inst.proc))
            signalGroup(inst.proc.pid, 'SIGKILL');
        }
      }
      clearTimeout(nats.restartTimer);
      if (nats.proc?.pid !== undefined && !hasExited(nats.proc))
        signalGroup(nats.proc.pid, 'SIGKILL');
    },

    isStopping: () => stopping,
  };
  return supervisor;
}
