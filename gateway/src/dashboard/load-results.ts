import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';

/**
 * The last load test: the newest run folder under the results directory (`load/results/<time>-
 * <name>/`, written by the k6 runs and the benchmarks), summarised from what it holds: the k6
 * summary JSON (`summary.json`), else the first markdown table of `summary.md` or `report.md`;
 * and its files, served under `/-/dashboard/results/<run>/<file>`. A run name and a file name are
 * single path segments of safe characters, the file's real path must stay inside the results
 * directory (no `..`, no symlink out), and only report-like extensions are served.
 */

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.jsonl': 'application/jsonl; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Files larger than this are listed but their contents are not parsed for the summary. */
const MAX_PARSED_BYTES = 1024 * 1024;
/** Files of a run listed at most. */
const MAX_FILES = 50;

export interface ResultFile {
  name: string;
  bytes: number;
  href: string;
}

export interface K6Figures {
  requests: number | null;
  rps: number | null;
  failedRate: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  checksPassed: number | null;
  checksFailed: number | null;
  durationMs: number | null;
  thresholds: { metric: string; threshold: string; ok: boolean }[];
}

export interface LoadRun {
  name: string;
  /** ISO time from the folder name, else its modification time. */
  at: string;
  files: ResultFile[];
  /** The report to open: report.html, else summary.md, else report.md. */
  report: ResultFile | null;
  k6: K6Figures | null;
  table: { header: string[]; rows: string[][] } | null;
  /** The markdown's title line, when there is one. */
  title: string | null;
}

export type LoadResultsState =
  | { ok: true; dir: string; run: LoadRun | null; runs: number }
  | { ok: false; dir: string; error: string };

export function isSafeName(name: string): boolean {
  return SAFE_NAME.test(name) && !name.includes('..');
}

export function hrefOf(run: string, file: string): string {
  return `/-/dashboard/results/${encodeURIComponent(run)}/${encodeURIComponent(file)}`;
}

/** `2026-11-24T00-08-31-536Z-static` → `2026-11-24T00:08:31.536Z`. */
export function timeFromRunName(name: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})(?:-(\d{3}))?Z/.exec(name);
  if (!m) return undefined;
  const iso = `${m[1]}T${m[2]}:${m[3]}:${m[4]}.${m[5] ?? '000'}Z`;
  return Number.isNaN(Date.parse(iso)) ? undefined : iso;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * k6's summary, in either shape: `handleSummary`'s data (`metrics.<m>.values.<stat>`) or
 * `--summary-export` (`metrics.<m>.<stat>`).
 */
export function parseK6Summary(value: unknown): K6Figures | null {
  const metrics = obj(obj(value).metrics);
  if (Object.keys(metrics).length === 0) return null;
  const stats = (name: string): Record<string, unknown> => {
    const m = obj(metrics[name]);
    return m.values === undefined ? m : obj(m.values);
  };
  const reqs = stats('http_reqs');
  const dur = stats('http_req_duration');
  const failed = stats('http_req_failed');
  const checks = stats('checks');
  const thresholds: K6Figures['thresholds'] = [];
  for (const [metric, raw] of Object.entries(metrics)) {
    for (const [threshold, result] of Object.entries(obj(obj(raw).thresholds))) {
      // handleSummary: { ok: boolean }; --summary-export: true when the threshold failed.
      const ok = typeof result === 'boolean' ? !result : obj(result).ok === true;
      thresholds.push({ metric, threshold, ok });
    }
  }
  return {
    requests: num(reqs.count),
    rps: num(reqs.rate),
    failedRate: num(failed.rate) ?? num(failed.value),
    p50: num(dur.med) ?? num(dur['p(50)']),
    p90: num(dur['p(90)']),
    p95: num(dur['p(95)']),
    p99: num(dur['p(99)']),
    max: num(dur.max),
    checksPassed: num(checks.passes),
    checksFailed: num(checks.fails),
    durationMs: num(obj(obj(value).state).testRunDurationMs),
    thresholds,
  };
}

/** The first markdown table (header and rows of cell text) and the first `#` title. */
export function parseMarkdownSummary(text: string): {
  title: string | null;
  table: LoadRun['table'];
} {
  const lines = text.split('\n');
  const title =
    lines
      .find((l) => /^#{1,3} /.test(l))
      ?.replace(/^#+ /, '')
      .trim() ?? null;
  const cells = (line: string): string[] =>
    line
      .trim()
      .replace(/^\|/, '')
      .replace(/\|$/, '')
      .split('|')
      .map((c) => c.trim().replace(/\*\*/g, '').replace(/`/g, ''));
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = lines[i]!.trim();
    const rule = lines[i + 1]!.trim();
    if (!head.startsWith('|') || !/^\|?\s*:?-{3,}/.test(rule)) continue;
    const rows: string[][] = [];
    for (let j = i + 2; j < lines.length && lines[j]!.trim().startsWith('|'); j++) {
      if (rows.length < 40) rows.push(cells(lines[j]!));
    }
    return { title, table: { header: cells(head), rows } };
  }
  return { title, table: null };
}

async function readSmall(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path);
    if (!s.isFile() || s.size > MAX_PARSED_BYTES) return undefined;
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

export async function readLatestRun(dir: string): Promise<LoadResultsState> {
  let names: string[];
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    names = entries.filter((e) => e.isDirectory() && isSafeName(e.name)).map((e) => e.name);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      ok: false,
      dir,
      error:
        code === 'ENOENT' ? 'no load test has run yet (the folder does not exist)' : String(err),
    };
  }
  if (names.length === 0) return { ok: true, dir, run: null, runs: 0 };
  // Folder names start with their UTC time, so the greatest name is the newest run.
  names.sort();
  const name = names[names.length - 1]!;
  const runDir = join(dir, name);
  const files: ResultFile[] = [];
  for (const e of (await readdir(runDir, { withFileTypes: true })).slice(0, MAX_FILES)) {
    if (!e.isFile() || !isSafeName(e.name) || CONTENT_TYPES[extname(e.name)] === undefined)
      continue;
    const s = await stat(join(runDir, e.name)).catch(() => undefined);
    if (s !== undefined) files.push({ name: e.name, bytes: s.size, href: hrefOf(name, e.name) });
  }
  files.sort((a, b) => a.name.localeCompare(b.name));
  const find = (n: string): ResultFile | undefined => files.find((f) => f.name === n);
  let k6: K6Figures | null = null;
  const summaryJson = await readSmall(join(runDir, 'summary.json'));
  if (summaryJson !== undefined) {
    try {
      k6 = parseK6Summary(JSON.parse(summaryJson));
    } catch {
      k6 = null;
    }
  }
  const mdName = find('summary.md') !== undefined ? 'summary.md' : 'report.md';
  const md = await readSmall(join(runDir, mdName));
  const parsed = md === undefined ? { title: null, table: null } : parseMarkdownSummary(md);
  const at =
    timeFromRunName(name) ??
    (await stat(runDir).then(
      (s) => s.mtime.toISOString(),
      () => new Date(0).toISOString(),
    ));
  return {
    ok: true,
    dir,
    runs: names.length,
    run: {
      name,
      at,
      files,
      report: find('report.html') ?? find('summary.md') ?? find('report.md') ?? null,
      k6,
      table: parsed.table,
      title: parsed.title,
    },
  };
}

/**
 * The real path of `<dir>/<run>/<file>` when it may be served: safe names, an allowed extension,
 * a regular file whose real path is inside the real results directory. Undefined otherwise.
 */
export async function resolveResultFile(
  dir: string,
  run: string,
  file: string,
): Promise<{ path: string; contentType: string; bytes: number } | undefined> {
  if (!isSafeName(run) || !isSafeName(file)) return undefined;
  const contentType = CONTENT_TYPES[extname(file)];
  if (contentType === undefined) return undefined;
  try {
    const root = await realpath(dir);
    const real = await realpath(join(root, run, file));
    if (!real.startsWith(root + sep)) return undefined;
    const s = await lstat(real);
    if (!s.isFile()) return undefined;
    return { path: real, contentType, bytes: s.size };
  } catch {
    return undefined;
  }
}

/** Streams a resolved result file. Reports are someone else's HTML: sandboxed, no access to the gateway's origin. */
export function sendResultFile(
  res: ServerResponse,
  file: { path: string; contentType: string; bytes: number },
  head: boolean,
): void {
  res.writeHead(200, {
    'content-type': file.contentType,
    'content-length': file.bytes,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    // A report may need its own inline scripts for its charts, but gets an opaque origin.
    'content-security-policy': "sandbox allow-scripts allow-popups; frame-ancestors 'self'",
  });
  if (head) {
    res.end();
    return;
  }
  const stream = createReadStream(file.path);
  stream.once('error', () => res.destroy());
  stream.pipe(res);
}
