import { fetchBounded, type BoundedFetchOptions } from './bounded-fetch';

/**
 * A few gauges read from an instance's Prometheus `/metrics` (the fetcher's queue depth and
 * downloads in progress are there, and nowhere on NATS). Only the named metrics are kept; samples
 * with labels are summed.
 */
export function parseGauges(text: string, names: readonly string[]): Record<string, number> {
  const wanted = new Set(names);
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.charCodeAt(0) === 0x23 /* # */) continue;
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) continue;
    const name = line.slice(0, nameEnd);
    if (!wanted.has(name)) continue;
    // The value follows the labels (which may hold spaces inside quotes) and precedes a timestamp.
    const afterLabels = line.charCodeAt(nameEnd) === 0x7b ? line.lastIndexOf('}') + 1 : nameEnd;
    const value = Number(line.slice(afterLabels).trim().split(/\s+/)[0]);
    if (!Number.isFinite(value)) continue;
    out[name] = (out[name] ?? 0) + value;
  }
  return out;
}

export async function scrapeGauges(
  metricsUrl: string,
  names: readonly string[],
  opts: BoundedFetchOptions,
): Promise<Record<string, number>> {
  return parseGauges(await fetchBounded(metricsUrl, opts), names);
}
