import http from 'k6/http';
import { BASE_URL } from '../lib/config.ts';
import {
  apiReads,
  expectStatus,
  fetchThroughFetcher,
  focusCrud,
  liveQuotesSse,
  liveQuotesWs,
  pages,
  slow,
  staticLarge,
  staticRevalidate,
  staticSmall,
  stockCodes,
  tcpEcho,
  closeTcpEcho,
} from '../lib/journeys.ts';
import exec from 'k6/execution';
import { SUMMARY_TREND_STATS } from '../lib/plan.ts';
import { summaryFiles } from '../lib/summary.ts';

/** Every route of the lab once per VU, two VUs: any failed request or check fails the run (CI). */
export const options = {
  scenarios: {
    smoke: {
      executor: 'per-vu-iterations',
      vus: 2,
      iterations: 1,
      maxDuration: '60s',
      exec: 'smoke',
    },
  },
  thresholds: {
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    tcp_errors: ['count==0'],
    // Loose: CI machines are shared; the smoke test is about correctness, not speed.
    http_req_duration: ['p(95)<2000'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup(): { codes: string[] } {
  return { codes: stockCodes() };
}

export function smoke(data: { codes: string[] }): void {
  for (const path of ['/-/healthz', '/-/readyz', '/-/routes', '/-/upstreams', '/-/metrics']) {
    expectStatus(
      http.get(`${BASE_URL}${path}`, { tags: { name: `GET ${path}` } }),
      200,
      `GET ${path}`,
    );
  }
  staticSmall();
  staticRevalidate();
  staticLarge();
  pages();
  apiReads(data.codes[0]!);
  focusCrud(data.codes[exec.vu.idInTest]!);
  expectStatus(
    http.get(`${BASE_URL}/openapi.json`, { tags: { name: 'GET /openapi.json' } }),
    200,
    'GET /openapi.json',
  );
  fetchThroughFetcher();
  liveQuotesWs();
  liveQuotesSse();
  slow('blocking', 10);
  slow('async', 10);
  tcpEcho(3);
  closeTcpEcho();
}

export function handleSummary(data: Parameters<typeof summaryFiles>[0]): Record<string, string> {
  return summaryFiles(data, { scenario: 'smoke' });
}
