import { fmtMs, findKnee, levelRows, type Knee } from './knee.ts';
import { faultWindows, type FaultAction, type FaultWindow } from './faults.ts';
import {
  durationS,
  failedThresholds,
  tagValues,
  thresholdCount,
  value,
  type K6Summary,
} from './summary.ts';

/** What the runner knows about a run besides k6's summary. */
export interface RunContext {
  scenario: string;
  dir: string;
  baseUrl: string;
  tcpAddr: string;
  k6ExitCode: number;
  labStarted: boolean;
  startedAt: string;
  faultActions?: readonly FaultAction[];
  /** Whether k6 wrote report.html (it skips runs too short to chart). */
  hasHtml?: boolean;
  notes?: readonly string[];
}

export interface RunReport {
  markdown: string;
  knee: Knee | undefined;
  faults: FaultWindow[] | undefined;
  passed: boolean;
}

const pct = (x: number | undefined): string => (x === undefined ? '—' : `${(x * 100).toFixed(2)}%`);
const n0 = (x: number | undefined): string =>
  x === undefined ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: 0 });
const n1 = (x: number | undefined): string =>
  x === undefined ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: 1 });

const table = (head: string[], rows: string[][]): string[] => [
  `| ${head.join(' | ')} |`,
  `| ${head.map(() => '---').join(' | ')} |`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
];

/** k6's exit codes that mean something other than "thresholds failed" (99). */
function exitMeaning(code: number): string {
  switch (code) {
    case 0:
      return 'every threshold held';
    case 99:
      return 'thresholds failed';
    case 107:
      return 'the script threw (bad environment variable, or setup() could not reach the lab)';
    case 108:
      return 'setup() or teardown() timed out';
    default:
      return `k6 exited with code ${code}`;
  }
}

export function runReport(summary: K6Summary, ctx: RunContext): RunReport {
  const failed = failedThresholds(summary);
  const passed = ctx.k6ExitCode === 0 && failed.length === 0;
  const totalS = durationS(summary);
  const lines: string[] = [
    `# k6 ${ctx.scenario} — ${passed ? 'PASSED' : 'FAILED'}`,
    '',
    `${ctx.startedAt} · target ${ctx.baseUrl} (TCP ${ctx.tcpAddr}) · ${totalS === undefined ? '' : `${totalS.toFixed(totalS < 10 ? 1 : 0)} s · `}lab ${ctx.labStarted ? 'started and stopped by the runner' : 'already running'}`,
    '',
    `Verdict: ${exitMeaning(ctx.k6ExitCode)} (${thresholdCount(summary)} thresholds).`,
    ...failed.map((f) => `- ✗ \`${f}\``),
    '',
  ];

  const httpReqs = value(summary, 'http_reqs', 'count');
  const rows: string[][] = [];
  if (httpReqs !== undefined) {
    rows.push([
      'HTTP',
      n0(httpReqs),
      n1(value(summary, 'http_reqs', 'rate')),
      pct(value(summary, 'http_req_failed', 'rate')),
      fmtMs(value(summary, 'http_req_duration', 'med')),
      fmtMs(value(summary, 'http_req_duration', 'p(95)')),
      fmtMs(value(summary, 'http_req_duration', 'p(99)')),
      fmtMs(value(summary, 'http_req_duration', 'max')),
    ]);
  }
  const rtt = value(summary, 'tcp_rtt', 'count');
  if (rtt !== undefined) {
    rows.push([
      'TCP round trips',
      n0(rtt),
      totalS === undefined ? '—' : n1(rtt / totalS),
      `${n0(value(summary, 'tcp_errors', 'count') ?? 0)} errors`,
      fmtMs(value(summary, 'tcp_rtt', 'med')),
      fmtMs(value(summary, 'tcp_rtt', 'p(95)')),
      fmtMs(value(summary, 'tcp_rtt', 'p(99)')),
      fmtMs(value(summary, 'tcp_rtt', 'max')),
    ]);
  }
  const wsSessions = value(summary, 'ws_sessions', 'count');
  if (wsSessions !== undefined) {
    rows.push([
      'WebSocket sessions',
      n0(wsSessions),
      value(summary, 'ws_sessions', 'rate') === undefined
        ? '—'
        : n1(value(summary, 'ws_sessions', 'rate')),
      '—',
      fmtMs(value(summary, 'ws_connecting', 'med')),
      fmtMs(value(summary, 'ws_connecting', 'p(95)')),
      fmtMs(value(summary, 'ws_connecting', 'p(99)')),
      fmtMs(value(summary, 'ws_connecting', 'max')),
    ]);
  }
  lines.push(
    ...table(['traffic', 'count', 'per s', 'failed', 'p50', 'p95', 'p99', 'max'], rows),
    '',
  );
  lines.push(
    `Checks: ${pct(value(summary, 'checks', 'rate'))} passed (${n0(value(summary, 'checks', 'fails') ?? 0)} failed) · iterations: ${n0(value(summary, 'iterations', 'count'))} · max VUs: ${n0(value(summary, 'vus_max', 'max') ?? value(summary, 'vus_max', 'value'))} · dropped iterations: ${n0(value(summary, 'dropped_iterations', 'count') ?? 0)} · received ${n1((value(summary, 'data_received', 'count') ?? 0) / 1e6)} MB`,
    '',
  );

  const kinds = tagValues(summary, 'kind');
  if (kinds.length > 0) {
    lines.push('## By kind', '');
    lines.push(
      ...table(
        ['kind', 'requests', 'req/s', 'failed', 'p50', 'p95', 'p99'],
        kinds.map((k) => {
          const t = `{kind:${k}}`;
          const count = value(summary, `http_reqs${t}`, 'count');
          const holdS = summary.netlab?.kindSeconds?.[k];
          return [
            k,
            n0(count),
            count === undefined || holdS === undefined ? '—' : n1(count / holdS),
            pct(value(summary, `http_req_failed${t}`, 'rate')),
            fmtMs(value(summary, `http_req_duration${t}`, 'med')),
            fmtMs(value(summary, `http_req_duration${t}`, 'p(95)')),
            fmtMs(value(summary, `http_req_duration${t}`, 'p(99)')),
          ];
        }),
      ),
      '',
    );
  }

  let knee: Knee | undefined;
  const plan = summary.netlab?.levels;
  if (plan !== undefined && plan.levels.length > 0) {
    knee = findKnee(levelRows(summary, plan), plan.unit);
    lines.push('## Levels and the knee', '');
    lines.push(
      ...table(
        [
          plan.unit === 'vus' ? 'VUs' : 'offered it/s',
          'hold',
          'req/s',
          'it/s',
          'failed',
          'p50',
          'p95',
          'p99',
          'verdict',
        ],
        knee.rows.map((r, i) => [
          String(r.load),
          `${r.holdS} s`,
          n1(r.throughput),
          n1(r.iterationRate),
          pct(r.errorRate),
          fmtMs(r.p50Ms),
          fmtMs(r.p95Ms),
          fmtMs(r.p99Ms),
          r.broken.length > 0
            ? `broken: ${r.broken.join('; ')}`
            : i === knee!.knee
              ? '**knee**'
              : 'ok',
        ]),
      ),
      '',
      `**${knee.text}.**`,
      '',
    );
  }

  let faults: FaultWindow[] | undefined;
  const schedule = summary.netlab?.faults;
  if (schedule !== undefined && schedule.length > 0) {
    faults = faultWindows(
      summary,
      schedule,
      totalS ?? schedule[schedule.length - 1]!.atS,
      ctx.faultActions,
    );
    lines.push('## Faults', '');
    lines.push(
      ...table(
        [
          'window',
          'from',
          'to',
          'restart took',
          'requests',
          'failed',
          'failed %',
          'failed checks',
          'tcp errors',
        ],
        faults.map((w) => [
          w.name,
          `${w.fromS.toFixed(1)} s`,
          `${w.toS.toFixed(1)} s`,
          w.action === undefined
            ? '—'
            : `${w.action.tookS.toFixed(1)} s${w.action.ok ? '' : ` (failed: ${w.action.detail ?? 'see lab log'})`}`,
          n0(w.requests),
          n0(w.failed),
          pct(w.failedRate),
          n0(w.checksFailed),
          n0(w.tcpErrors),
        ]),
      ),
      '',
    );
  }

  lines.push(
    ...(summary.netlab?.notes ?? []).map((n) => `- ${n}`),
    ...(ctx.notes ?? []).map((n) => `- ${n}`),
    `- Files in \`${ctx.dir}/\`: ${ctx.hasHtml === false ? 'no report.html (k6 skips it for runs too short to chart)' : 'report.html (charts: latency percentiles, throughput, errors over time)'}, summary.json (k6's summary), summary.md (this), k6.log.`,
    '',
  );
  return { markdown: lines.join('\n'), knee, faults, passed };
}
