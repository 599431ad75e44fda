import { RESULTS_DIR } from './config.ts';
import type { LevelPlan } from './levels.ts';
import type { Fault } from './faults.ts';

/**
 * handleSummary for every scenario: k6's summary data plus what the runner needs to read it (the
 * level plan, the fault schedule) as `summary.json` in RESULTS_DIR. The runner writes the markdown
 * and prints it. Run without the runner, a short text goes to stdout instead.
 */
export interface NetlabMeta {
  scenario: string;
  levels?: LevelPlan;
  faults?: Fault[];
  kindSeconds?: Record<string, number>;
  notes?: string[];
}

interface SummaryMetric {
  type: string;
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

export function summaryFiles(
  data: { metrics: Record<string, SummaryMetric> },
  meta: NetlabMeta,
): Record<string, string> {
  if (RESULTS_DIR !== undefined) {
    return { [`${RESULTS_DIR}/summary.json`]: JSON.stringify({ ...data, netlab: meta }, null, 1) };
  }
  const lines = [`netlab ${meta.scenario}:`];
  for (const [name, m] of Object.entries(data.metrics)) {
    if (name.includes('{')) continue;
    const v = m.values;
    const failed = Object.entries(m.thresholds ?? {})
      .filter(([, t]) => !t.ok)
      .map(([expr]) => ` ✗ ${expr}`)
      .join('');
    const text =
      m.type === 'trend'
        ? `p95=${v['p(95)']?.toFixed(2)} p99=${v['p(99)']?.toFixed(2)} max=${v['max']?.toFixed(2)}`
        : m.type === 'rate'
          ? `${((v['rate'] ?? 0) * 100).toFixed(2)}%`
          : `${v['count'] ?? v['value']}`;
    lines.push(`  ${name}: ${text}${failed}`);
  }
  return { stdout: `${lines.join('\n')}\n` };
}
