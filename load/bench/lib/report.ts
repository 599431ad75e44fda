import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Measurement } from './matrix.ts';

/** Medians over repetitions, the spread of the primary metric, and its ratio to a reference. */
export interface SummaryRow {
  test: string;
  system: string;
  medians: Record<string, number>;
  /** (max − min) / median of the primary metric, over the repetitions. */
  spread: number;
  /** Primary metric's median divided by the reference system's, for the same test. */
  ratio: number | undefined;
  reps: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(
  measurements: readonly Measurement[],
  opts: { primary: string; reference: string },
): SummaryRow[] {
  const groups = new Map<string, Measurement[]>();
  for (const m of measurements) {
    const key = `${m.test}\u0000${m.system}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  const rows: SummaryRow[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    const keys = Object.keys(first.metrics);
    const medians = Object.fromEntries(
      keys.map((k) => [k, median(group.map((m) => m.metrics[k] ?? Number.NaN))]),
    );
    const primary = group.map((m) => m.metrics[opts.primary] ?? Number.NaN);
    const mid = median(primary);
    rows.push({
      test: first.test,
      system: first.system,
      medians,
      spread: mid === 0 ? 0 : (Math.max(...primary) - Math.min(...primary)) / mid,
      ratio: undefined,
      reps: group.length,
    });
  }
  for (const row of rows) {
    const ref = rows.find((r) => r.test === row.test && r.system === opts.reference);
    const refValue = ref?.medians[opts.primary];
    const value = row.medians[opts.primary];
    if (refValue !== undefined && value !== undefined && refValue !== 0) {
      row.ratio = value / refValue;
    }
  }
  return rows;
}

/** A column of the markdown table: a metric, its heading and how to print it. */
export interface Column {
  metric: string;
  heading: string;
  digits?: number;
}

const fmt = (value: number | undefined, digits: number): string =>
  value === undefined || Number.isNaN(value)
    ? '—'
    : value.toLocaleString('en-US', {
        maximumFractionDigits: digits,
        minimumFractionDigits: digits,
      });

export function markdownTable(
  rows: readonly SummaryRow[],
  columns: readonly Column[],
  reference: string,
): string {
  const head = ['test', 'system', ...columns.map((c) => c.heading), 'spread', `× ${reference}`];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const r of rows) {
    const cells = [
      r.test,
      r.system,
      ...columns.map((c) => fmt(r.medians[c.metric], c.digits ?? 0)),
      `${fmt(r.spread * 100, 1)}%`,
      r.ratio === undefined ? '—' : `${fmt(r.ratio, 2)}×`,
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export interface ReportOptions {
  /** Short name: the folder is load/results/<time>-<name>/. */
  name: string;
  title: string;
  measurements: readonly Measurement[];
  rows: readonly SummaryRow[];
  columns: readonly Column[];
  reference: string;
  /** Method, machine, caveats: printed under the table. */
  notes?: readonly string[];
  /** Defaults to <repo>/load/results. */
  resultsDir?: string;
}

/** The checkout that holds `start` (the nearest folder with load/bench), where results go. */
export function repoRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'load', 'bench'))) return dir;
    if (dirname(dir) === dir) return start;
  }
}

/** Writes report.md and results.jsonl, prints the markdown, and returns the folder. */
export function writeReport(opts: ReportOptions): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const base = opts.resultsDir ?? join(repoRoot(process.cwd()), 'load', 'results');
  const dir = join(base, `${stamp}-${opts.name}`);
  mkdirSync(dir, { recursive: true });
  const markdown = [
    `# ${opts.title}`,
    '',
    markdownTable(opts.rows, opts.columns, opts.reference),
    '',
    ...(opts.notes ?? []).map((n) => `- ${n}`),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'report.md'), markdown);
  writeFileSync(
    join(dir, 'results.jsonl'),
    opts.measurements.map((m) => JSON.stringify(m)).join('\n') + '\n',
  );
  process.stdout.write(`${markdown}\nwritten to ${dir}\n`);
  return dir;
}
