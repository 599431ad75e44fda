import type { LabStatus } from './lab-protocol';

/** Columns padded to their widest cell, two spaces apart; no trailing blanks. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `850ms`, `42s`, `5m03s`, `2h05m`, `3d04h`. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.floor(ms / 1_000);
  if (s < 60) return `${s}s`;
  const pad = (n: number): string => String(n).padStart(2, '0');
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${pad(m % 60)}m`;
  return `${Math.floor(h / 24)}d${pad(h % 24)}h`;
}

/** `512 B`, `1.5 KiB`, `45.2 MiB`. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const HEADER = [
  'PART',
  'INSTANCE',
  'PID',
  'STATE',
  'RESTARTS',
  'UPTIME',
  'URL',
  'RSS',
  'IN-FLIGHT',
];

/** What `netlab status` and `netlab up` print. */
export function formatStatusTable(status: LabStatus): string {
  const { nats, supervisor } = status;
  const rows: string[][] = [
    [
      'nats',
      'nats',
      nats.pid === null ? '-' : String(nats.pid),
      nats.state,
      String(nats.restarts),
      formatDuration(nats.uptimeMs),
      nats.url ?? '-',
      '-',
      '-',
    ],
  ];
  for (const part of status.parts) {
    if (part.instances.length === 0) {
      rows.push([part.name, '-', '-', 'stopped', '-', '-', '-', '-', '-']);
    }
    for (const i of part.instances) {
      rows.push([
        part.name,
        i.name,
        i.pid === null ? '-' : String(i.pid),
        i.live?.draining === true ? 'draining' : i.state,
        String(i.restarts),
        formatDuration(i.uptimeMs),
        i.healthUrl === null ? i.url : `${i.url} (health ${i.healthUrl})`,
        formatBytes(i.live?.rssBytes),
        i.live === null ? '-' : String(i.live.inFlight),
      ]);
    }
  }
  const heading = [
    `lab ${supervisor.dir}  supervisor pid ${supervisor.pid}  up ${formatDuration(supervisor.uptimeMs)}${
      supervisor.stopping ? '  (stopping)' : ''
    }`,
    `nats ${nats.url ?? '-'}  monitoring ${nats.monitorUrl ?? '-'}`,
  ];
  return `${heading.join('\n')}\n\n${formatTable(HEADER, rows)}\n`;
}
