import { envInt, envSeconds, seconds } from '../lib/config.ts';
import { slow } from '../lib/journeys.ts';
import { SUMMARY_TREND_STATS } from '../lib/plan.ts';
import { summaryFiles } from '../lib/summary.ts';

/**
 * The WSGI/ASGI lesson in numbers: VUS clients call /api/slow/blocking?ms=SLOW_MS for half of
 * DURATION, then /api/slow/async?ms=SLOW_MS for the other half. A blocked event loop serves one
 * wait at a time (1000/SLOW_MS req/s per instance, p95 near VUS × SLOW_MS); an awaited one serves
 * them all at once (about VUS × 1000/SLOW_MS req/s, p95 near SLOW_MS). The async side's p95 is the
 * threshold: if the loop is blocked anyway, it fails.
 */
const vus = envInt('VUS', 20, 1, 1000);
const ms = envInt('SLOW_MS', 100, 1, 10_000);
const halfS = Math.round(envSeconds('DURATION', 40) / 2);
const gapS = 5;

export const options = {
  scenarios: {
    blocking: {
      executor: 'constant-vus',
      vus,
      duration: seconds(halfS),
      exec: 'blocking',
      gracefulStop: `${gapS - 1}s`,
      tags: { kind: 'blocking' },
    },
    async: {
      executor: 'constant-vus',
      vus,
      duration: seconds(halfS),
      startTime: seconds(halfS + gapS),
      exec: 'awaited',
      gracefulStop: '5s',
      tags: { kind: 'async' },
    },
  },
  thresholds: {
    'http_req_failed{kind:blocking}': ['rate<0.01'],
    'http_req_failed{kind:async}': ['rate<0.01'],
    'http_reqs{kind:blocking}': ['count>=0'],
    'http_reqs{kind:async}': ['count>=0'],
    'http_req_duration{kind:blocking}': ['max>=0'],
    // An awaited wait must not queue behind the others: generous for a shared machine.
    'http_req_duration{kind:async}': [`p(95)<${ms * 3 + 50}`],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function blocking(): void {
  slow('blocking', ms);
}

export function awaited(): void {
  slow('async', ms);
}

export function handleSummary(data: Parameters<typeof summaryFiles>[0]): Record<string, string> {
  return summaryFiles(data, {
    scenario: 'blocking-vs-async',
    kindSeconds: { blocking: halfS, async: halfS },
    notes: [
      `${vus} VUs, ${ms} ms of work per request, ${halfS} s each. Expected: blocking ≈ ${(1000 / ms).toFixed(0)} req/s per dynamic instance; async ≈ ${((vus * 1000) / ms).toFixed(0)} req/s.`,
    ],
  });
}
