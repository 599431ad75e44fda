import exec from 'k6/execution';
import {
  apiReads,
  fetchThroughFetcher,
  focusCrud,
  liveQuotesWs,
  pages,
  staticLarge,
  staticSmall,
  tcpEcho,
} from './journeys.ts';

/**
 * The `mixed` journeys and their weights (out of 100): mostly reads, as on a real site. The choice
 * is deterministic (the test-wide iteration number walks a shuffled table), so two runs of the
 * same size send the same mix and can be compared.
 */
export const MIX: readonly { name: string; weight: number; run: (code: string) => void }[] = [
  { name: 'static assets', weight: 34, run: () => staticSmall() },
  { name: 'static large file', weight: 2, run: () => staticLarge() },
  { name: 'pages', weight: 22, run: () => pages() },
  { name: 'API reads', weight: 22, run: (code) => apiReads(code) },
  { name: 'focus create/update/delete', weight: 8, run: (code) => focusCrud(code) },
  { name: 'fetch', weight: 5, run: () => fetchThroughFetcher() },
  { name: 'live quotes (WebSocket)', weight: 2, run: () => liveQuotesWs() },
  { name: 'tcp-echo', weight: 5, run: () => tcpEcho(10) },
];

const table: number[] = [];
MIX.forEach((j, i) => {
  for (let k = 0; k < j.weight; k++) table.push(i);
});
// A fixed stride coprime with 100 spreads each journey over the table instead of in runs.
const STRIDE = 37;

/** Runs the journey for this iteration; each VU follows a stock of its own for focus CRUD. */
export function runMixedIteration(codes: readonly string[]): void {
  const n = exec.scenario.iterationInTest;
  const journey = MIX[table[(n * STRIDE) % table.length]!]!;
  journey.run(codes[(exec.vu.idInTest - 1) % codes.length]!);
}
