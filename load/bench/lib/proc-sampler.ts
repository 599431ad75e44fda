import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU% and RSS of a set of processes, read from /proc while a measurement runs (BENCHMARKING.md:
 * "Record server CPU% and RSS from /proc while it runs"). CPU% is of one core: 100 = one core
 * busy the whole time.
 */
export interface ProcessSample {
  /** Average CPU over the window, percent of one core, summed over the processes. */
  cpuPercent: number;
  /** The highest summed resident set seen during the window. */
  rssMaxBytes: number;
}

/** Linux's USER_HZ; `getconf CLK_TCK` is 100 on every mainstream kernel config. */
const CLOCK_TICKS_PER_SECOND = 100;

function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name, which may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return undefined; // gone
  }
}

export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

/** `pid` and all its descendants (nginx's workers, a shell's child), read from /proc. */
export function processTree(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // The process ended while we looked.
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parentOf) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/**
 * Starts sampling; `stop()` ends the window and returns what was seen. A process that exits
 * during the window (wrk at the end of its run) counts with its last reading.
 */
export function sampleProcesses(
  pids: readonly number[],
  intervalMs = 200,
): { stop(): ProcessSample } {
  const startedAt = process.hrtime.bigint();
  const first = new Map(pids.map((pid) => [pid, cpuTicks(pid) ?? 0]));
  const last = new Map(first);
  let lastAt = startedAt;
  let rssMax = 0;
  const sample = (): void => {
    let rss = 0;
    for (const pid of pids) {
      const ticks = cpuTicks(pid);
      if (ticks !== undefined) last.set(pid, ticks);
      rss += rssBytes(pid);
    }
    lastAt = process.hrtime.bigint();
    rssMax = Math.max(rssMax, rss);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const seconds = Number(lastAt - startedAt) / 1e9;
      let ticks = 0;
      for (const pid of pids) ticks += (last.get(pid) ?? 0) - (first.get(pid) ?? 0);
      return {
        cpuPercent: seconds > 0 ? (ticks / CLOCK_TICKS_PER_SECOND / seconds) * 100 : 0,
        rssMaxBytes: rssMax,
      };
    },
  };
}
