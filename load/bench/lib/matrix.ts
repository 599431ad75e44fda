import { processTree, sampleProcesses } from './proc-sampler.ts';

/**
 * The measurement plan of BENCHMARKING.md: every system started once, one warm-up of each test on
 * each system, then `reps` repetitions interleaved as rep → test → system, so that a slow phase of
 * the shared machine hits every system alike. CPU% and RSS of each system's processes are sampled
 * during every measurement.
 */

/** A system that is running: the processes to sample, and how to stop it. */
export interface RunningSystem {
  /** The root process; its descendants are sampled too (nginx's workers). */
  pid: number;
  /** Where to send traffic, e.g. `http://127.0.0.1:PORT`. */
  url: string;
  stop(): Promise<void>;
}

export interface BenchSystem {
  name: string;
  /** Starts it pinned to CORES.server and resolves once it answers. */
  start(): Promise<RunningSystem>;
}

export interface BenchTest<S = RunningSystem> {
  name: string;
  /** One measurement: returns named numbers (req/s, p99, MB/s, …). */
  measure(system: S): Promise<Record<string, number>>;
  /** Shorter run used once per system before the repetitions. Defaults to `measure`. */
  warmup?(system: S): Promise<unknown>;
}

/** One measurement of one test on one system. */
export interface Measurement {
  rep: number;
  test: string;
  system: string;
  metrics: Record<string, number>;
  at: string;
}

export interface MatrixOptions {
  systems: readonly BenchSystem[];
  tests: readonly BenchTest[];
  reps?: number;
  /** Progress lines; stderr by default, so stdout carries only the report. */
  progress?: (line: string) => void;
}

export async function runMatrix(opts: MatrixOptions): Promise<Measurement[]> {
  const reps = opts.reps ?? 3;
  const say = opts.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const running = new Map<string, RunningSystem>();
  const measurements: Measurement[] = [];
  try {
    for (const system of opts.systems) {
      say(`starting ${system.name}`);
      running.set(system.name, await system.start());
    }
    for (const test of opts.tests) {
      for (const system of opts.systems) {
        say(`warm-up ${test.name} on ${system.name}`);
        const s = running.get(system.name)!;
        await (test.warmup ?? test.measure)(s);
      }
    }
    for (let rep = 1; rep <= reps; rep++) {
      for (const test of opts.tests) {
        for (const system of opts.systems) {
          const s = running.get(system.name)!;
          const sampler = sampleProcesses(processTree(s.pid));
          const metrics = await test.measure(s);
          const usage = sampler.stop();
          const m: Measurement = {
            rep,
            test: test.name,
            system: system.name,
            metrics: {
              ...metrics,
              serverCpuPercent: usage.cpuPercent,
              serverRssMiB: usage.rssMaxBytes / 1024 / 1024,
            },
            at: new Date().toISOString(),
          };
          measurements.push(m);
          say(`rep ${rep} ${test.name} ${system.name}: ${JSON.stringify(m.metrics)}`);
        }
      }
    }
  } finally {
    for (const [name, s] of running) {
      await s.stop().catch((err: unknown) => say(`stopping ${name} failed: ${String(err)}`));
    }
  }
  return measurements;
}
