/**
 * `make bench`'s closing step: one report of every comparison run since `--since` (or the newest
 * run of each benchmark), read back from their report.md files: each table's ratios against its
 * reference peer, the targets met or not, and an SVG chart of the ratios per benchmark.
 *
 *   node load/bench/lib/collect.ts [--since 2026-11-24T00-00-00] [--results DIR]
 *
 * Writes load/results/<time>-bench/report.md and one <bench>.svg per benchmark; prints the markdown.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from './report.ts';

export interface RatioRow {
  test: string;
  system: string;
  /** The first metric column (req/s, MB/s, …) as printed. */
  primary: string;
  ratio: number | undefined;
}

export interface BenchTable {
  title: string;
  /** The heading of the first metric column. */
  primaryHeading: string;
  reference: string;
  rows: RatioRow[];
  /** Bullet lines that state a target, as written. */
  targets: string[];
}

/** The first table of a load/bench report.md (writeReport's shape: test, system, …, `× ref`). */
export function parseBenchReport(markdown: string): BenchTable | undefined {
  const lines = markdown.split('\n');
  const title = (lines.find((l) => l.startsWith('# ')) ?? '# ?').slice(2).trim();
  const headAt = lines.findIndex((l) => /^\|\s*test\s*\|\s*system\s*\|/.test(l));
  if (headAt === -1) return undefined;
  const cells = (l: string): string[] =>
    l
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim());
  const head = cells(lines[headAt]!);
  const last = head[head.length - 1]!;
  const reference = last.startsWith('×') ? last.slice(1).trim() : '';
  const rows: RatioRow[] = [];
  for (let i = headAt + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    const c = cells(lines[i]!);
    const ratioText = c[c.length - 1]!.replace('×', '').replace(/,/g, '');
    const ratio = Number.parseFloat(ratioText);
    rows.push({
      test: c[0]!,
      system: c[1]!,
      primary: c[2] ?? '—',
      ratio: Number.isFinite(ratio) ? ratio : undefined,
    });
  }
  const targets = lines.filter((l) => /^- .*target/i.test(l)).map((l) => l.slice(2).trim());
  return { title, primaryHeading: head[2] ?? '', reference, rows, targets };
}

const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Horizontal bars, one per test × system with a ratio, against a dashed line at 1× (the reference
 * peer); netlab's own systems (names starting with `netlab` or the part's name) are not singled out:
 * every bar is labelled.
 */
export function ratioChartSvg(table: BenchTable): string | undefined {
  const rows = table.rows.filter((r) => r.ratio !== undefined && r.system !== table.reference);
  if (rows.length === 0) return undefined;
  const labelW = 380;
  const chartW = 360;
  const barH = 18;
  const gap = 6;
  const top = 40;
  const max = Math.max(1, ...rows.map((r) => r.ratio!)) * 1.15;
  const x = (v: number): number => labelW + (v / max) * chartW;
  const height = top + rows.length * (barH + gap) + 30;
  const width = labelW + chartW + 70;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(table.title)}</text>`,
    `<text x="10" y="34" fill="#555">ratio of ${escapeXml(table.primaryHeading)} to ${escapeXml(table.reference || 'the reference')} (1× = the reference, measured in the same run)</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * (barH + gap);
    const fill = r.ratio! >= 1 ? '#2e7d32' : '#1565c0';
    parts.push(
      `<text x="${labelW - 8}" y="${y + barH - 5}" text-anchor="end">${escapeXml(`${r.test} · ${r.system}`)}</text>`,
      `<rect x="${labelW}" y="${y}" width="${(x(r.ratio!) - labelW).toFixed(1)}" height="${barH}" fill="${fill}"/>`,
      `<text x="${(x(r.ratio!) + 4).toFixed(1)}" y="${y + barH - 5}">${r.ratio!.toFixed(2)}×</text>`,
    );
  });
  const one = x(1).toFixed(1);
  parts.push(
    `<line x1="${one}" y1="${top - 4}" x2="${one}" y2="${height - 22}" stroke="#c62828" stroke-dasharray="4 3"/>`,
    `<text x="${one}" y="${height - 8}" text-anchor="middle" fill="#c62828">1× ${escapeXml(table.reference)}</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}

/** The runs to collect: every folder newer than `since`, or else the newest of each benchmark. */
export function pickRuns(folders: readonly string[], since: string | undefined): string[] {
  const stamped = folders.filter((f) => /^\d{4}-\d\d-\d\dT[\d-]+Z-/.test(f)).sort();
  const nameOf = (f: string): string => f.replace(/^\d{4}-\d\d-\d\dT[\d-]+Z-/, '');
  const chosen = since === undefined ? stamped : stamped.filter((f) => f >= since);
  const newest = new Map<string, string>();
  for (const f of chosen) newest.set(nameOf(f), f);
  return [...newest.values()];
}

export function collectMarkdown(
  runs: readonly { folder: string; table: BenchTable; svg?: string }[],
): string {
  const lines = ['# make bench — every comparison against its peers', ''];
  lines.push(
    '| benchmark | test | system | ' + 'primary | × reference |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const { table } of runs) {
    for (const r of table.rows) {
      lines.push(
        `| ${table.title} | ${r.test} | ${r.system} | ${r.primary} ${table.primaryHeading} | ${r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}× ${table.reference}`} |`,
      );
    }
  }
  lines.push('');
  for (const { folder, table, svg } of runs) {
    lines.push(`## ${table.title}`, '', `Run: \`load/results/${folder}/\``, '');
    if (svg !== undefined) lines.push(`![${table.title}](${svg})`, '');
    lines.push(...table.targets.map((t) => `- ${t}`), '');
  }
  lines.push(
    '- Ratios come from each benchmark run alone (server and load generator pinned, BENCHMARKING.md); on a shared machine they drift between runs, the ratio much less than the absolute figures.',
    '',
  );
  return lines.join('\n');
}

function main(): void {
  const { values } = parseArgs({
    options: { since: { type: 'string' }, results: { type: 'string' } },
  });
  const results = values.results ?? join(repoRoot(process.cwd()), 'load', 'results');
  const folders = existsSync(results) ? readdirSync(results) : [];
  const runs = pickRuns(
    folders.filter((f) => !f.endsWith('-bench') && existsSync(join(results, f, 'report.md'))),
    values.since,
  );
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const out = join(results, `${stamp}-bench`);
  mkdirSync(out, { recursive: true });
  const collected: { folder: string; table: BenchTable; svg?: string }[] = [];
  for (const folder of runs) {
    const table = parseBenchReport(readFileSync(join(results, folder, 'report.md'), 'utf8'));
    if (table === undefined) continue;
    const svg = ratioChartSvg(table);
    const name = `${folder.replace(/^\d{4}-\d\d-\d\dT[\d-]+Z-/, '')}.svg`;
    if (svg !== undefined) writeFileSync(join(out, name), svg);
    collected.push({ folder, table, svg: svg === undefined ? undefined : name });
  }
  const markdown = collectMarkdown(collected);
  writeFileSync(join(out, 'report.md'), markdown);
  process.stdout.write(`${markdown}\nwritten to ${out}\n`);
}

// Run as a script, not when a test imports it.
if (process.argv[1]?.endsWith('collect.ts')) main();
