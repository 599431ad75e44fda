/** A download progress line for a terminal, like curl's and httpie's. Pure: tests call it. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--';
  const total = Math.round(s);
  const m = Math.floor(total / 60);
  return m > 0 ? `${m}m${String(total % 60).padStart(2, '0')}s` : `${total}s`;
}

/**
 * `[##########----------]  50%  5.0 MiB / 10.0 MiB  2.5 MiB/s  ETA 2s`; without a total (no
 * Content-Length, or a decoded body) the bar is replaced by the byte count and rate alone.
 */
export function renderProgress(
  bytes: number,
  total: number | null,
  rateBps: number,
  width = 24,
): string {
  const rate = `${formatBytes(Math.round(rateBps))}/s`;
  if (total === null || total <= 0) return `${formatBytes(bytes)}  ${rate}`;
  const ratio = Math.min(1, bytes / total);
  const filled = Math.round(ratio * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const pct = `${Math.floor(ratio * 100)}%`.padStart(4);
  const eta = rateBps > 0 ? formatSeconds(Math.max(0, total - bytes) / rateBps) : '--';
  return `${bar} ${pct}  ${formatBytes(bytes)} / ${formatBytes(total)}  ${rate}  ETA ${eta}`;
}
