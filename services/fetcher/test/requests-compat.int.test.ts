import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FetchRequestInput } from '../src/request-model';
import { makeCore, req, startUpstream, type TestCore, type Upstream } from './fixtures/fetcher';
import { createRoutes, type Routes } from './fixtures/routes';

/**
 * Semantics match Python `requests`: the same cases run through requests (pip, pinned, in a
 * virtualenv in the temp directory) and through the fetcher against one local upstream,
 * and what the upstream saw and what came back must agree: params encoding, redirect history and
 * method changes, cookies, credentials on cross-host redirects.
 */

const REQUESTS_VERSION = '2.32.3';
// Outside the repository, so that neither eslint nor prettier walks into site-packages; reused
// by later runs.
const VENV = join(tmpdir(), `netlab-fetcher-requests-${REQUESTS_VERSION}`);
const PYTHON = join(VENV, 'bin', 'python');
const run = promisify(execFile);

interface Step {
  method?: string;
  url: string;
  params?: Record<string, string | string[]> | [string, string][];
  data?: string | Record<string, string | string[]> | [string, string][];
  json?: unknown;
  headers?: Record<string, string>;
  cookies?: Record<string, string>;
  auth?: [string, string];
  allowRedirects?: boolean;
}

interface Outcome {
  status: number;
  url: string;
  method: string;
  history: [number, string][];
  cookies: Record<string, string>;
  seen: {
    method: string;
    url: string;
    cookie: string | null;
    authorization: boolean;
    body: unknown;
    contentType: string | null;
  } | null;
}

/** Makes the venv once (reused by later runs); undefined when pip cannot install. */
async function ensureRequests(): Promise<string | undefined> {
  try {
    if (!existsSync(PYTHON)) await run('python3', ['-m', 'venv', VENV], { timeout: 60_000 });
    const have = await run(PYTHON, ['-c', 'import requests; print(requests.__version__)']).catch(
      () => undefined,
    );
    if (have?.stdout.trim() !== REQUESTS_VERSION) {
      await run(PYTHON, ['-m', 'pip', 'install', '--quiet', `requests==${REQUESTS_VERSION}`], {
        timeout: 120_000,
      });
    }
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

let routes: Routes;
let up: Upstream;
let core: TestCore;
let unavailable: string | undefined;

beforeAll(async () => {
  routes = createRoutes();
  up = await startUpstream(routes.handler);
  core = makeCore({ FETCH_ALLOW: '127.0.0.1' });
  unavailable = await ensureRequests();
}, 180_000);

afterAll(async () => {
  routes.close();
  await core.close();
  await up.close();
});

function cases(): { name: string; steps: Step[] }[] {
  const b = up.url;
  const other = b.replace('127.0.0.1', 'localhost');
  const setCookie = (cookies: string[], to?: string) =>
    `${b}/set-cookie?${cookies.map((c) => `c=${encodeURIComponent(c)}`).join('&')}${to === undefined ? '' : `&to=${encodeURIComponent(to)}`}`;
  return [
    {
      name: 'params: lists, existing query, quote_plus',
      steps: [{ url: `${b}/echo?z=0`, params: { a: ['1', '2'], 'b c': 'x y', s: "~*!'()é/?&=+" } }],
    },
    {
      name: 'params: pairs with repeated keys',
      steps: [
        {
          url: `${b}/echo`,
          params: [
            ['k', '1'],
            ['j', '2'],
            ['k', '3'],
          ],
        },
      ],
    },
    {
      name: 'form data with repeated keys',
      steps: [
        {
          method: 'POST',
          url: `${b}/echo`,
          data: [
            ['a', '1'],
            ['a', 'two words'],
            ['é', '&'],
          ],
        },
      ],
    },
    { name: 'redirect chain history', steps: [{ url: `${b}/chain/3` }] },
    { name: 'redirect not followed', steps: [{ url: `${b}/chain/2`, allowRedirects: false }] },
    ...[301, 302, 303, 307, 308].map((status) => ({
      name: `POST through ${status}`,
      steps: [{ method: 'POST', url: `${b}/redirect?status=${status}&to=/echo`, json: { a: 1 } }],
    })),
    {
      name: 'PUT through 301',
      steps: [{ method: 'PUT', url: `${b}/redirect?status=301&to=/echo`, data: 'body' }],
    },
    {
      name: 'HEAD through 303',
      steps: [{ method: 'HEAD', url: `${b}/redirect?status=303&to=/echo` }],
    },
    {
      name: 'absolute redirect to a path with a query',
      steps: [{ url: `${b}/redirect?to=${encodeURIComponent(`${b}/echo?from=abs`)}` }],
    },
    {
      name: 'cookies set during redirects, path scoped, kept by the session, deleted by Max-Age=0',
      steps: [
        { url: setCookie(['a=1; Path=/', 'b=2; Path=/echo', 'c=3; Path=/other'], '/echo/deeper') },
        { url: `${b}/echo` },
        { url: setCookie(['a=; Max-Age=0; Path=/']) },
        { url: `${b}/echo/x` },
      ],
    },
    {
      name: 'cookies of the final response',
      steps: [{ url: setCookie(['f=final; Path=/', 'g=2']) }],
    },
    { name: 'explicit cookies', steps: [{ url: `${b}/echo`, cookies: { k: 'v', l: 'w' } }] },
    {
      name: 'authorization kept on the same host',
      steps: [{ url: `${b}/redirect?to=/echo`, auth: ['user', 'pass'] }],
    },
    {
      name: 'authorization dropped on another host',
      steps: [
        { url: `${b}/redirect?to=${encodeURIComponent(`${other}/echo`)}`, auth: ['user', 'pass'] },
      ],
    },
  ];
}

function seenOf(echo: unknown): Outcome['seen'] {
  const e = echo as {
    method: string;
    url: string;
    headers: Record<string, string>;
    body: string;
  } | null;
  if (e === null || typeof e !== 'object' || !('headers' in e)) return null;
  const type = e.headers['content-type'] ?? null;
  return {
    method: e.method,
    url: e.url,
    cookie: e.headers.cookie ?? null,
    authorization: e.headers.authorization !== undefined,
    // requests writes JSON with ", " separators: compare the value, not the text.
    body: type === 'application/json' ? (JSON.parse(e.body) as unknown) : e.body,
    contentType: type,
  };
}

async function viaRequests(
  all: { name: string; steps: Step[] }[],
): Promise<Record<string, Outcome[]>> {
  const dir = mkdtempSync(join(tmpdir(), 'netlab-requests-'));
  try {
    const file = join(dir, 'cases.json');
    writeFileSync(file, JSON.stringify(all));
    const { stdout } = await run(PYTHON, [join(__dirname, 'python', 'requests_cases.py'), file], {
      timeout: 60_000,
    });
    const out = JSON.parse(stdout) as {
      version: string;
      cases: Record<string, (Omit<Outcome, 'seen'> & { echo: unknown })[]>;
    };
    expect(out.version).toBe(REQUESTS_VERSION);
    return Object.fromEntries(
      Object.entries(out.cases).map(([name, steps]) => [
        name,
        steps.map(({ echo, ...rest }) => ({ ...rest, seen: seenOf(echo) })),
      ]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function viaFetcher(
  all: { name: string; steps: Step[] }[],
): Promise<Record<string, Outcome[]>> {
  const out: Record<string, Outcome[]> = {};
  let n = 0;
  for (const c of all) {
    const session = `compat-${n++}`;
    out[c.name] = [];
    for (const step of c.steps) {
      const input: FetchRequestInput = { ...step, session };
      const res = await core.engine.fetch(req(input), { via: 'http' });
      out[c.name]!.push({
        status: res.status,
        url: res.url,
        method: res.method,
        history: res.history.map((h) => [h.status, h.url]),
        cookies: res.cookies,
        seen: seenOf(res.body.as === 'json' ? res.body.json : null),
      });
    }
  }
  return out;
}

describe('semantics of Python requests', () => {
  it(`match requests ${REQUESTS_VERSION} on params, redirects, cookies and credentials`, async () => {
    if (unavailable !== undefined) {
      process.stderr.write(
        `SKIPPED: requests ${REQUESTS_VERSION} could not be installed with pip into ${VENV}: ${unavailable}\n`,
      );
      return;
    }
    const all = cases();
    const [python, fetcher] = await Promise.all([viaRequests(all), viaFetcher(all)]);
    expect(Object.keys(fetcher)).toEqual(all.map((c) => c.name));
    for (const c of all) {
      expect({ case: c.name, outcome: fetcher[c.name] }).toEqual({
        case: c.name,
        outcome: python[c.name],
      });
    }
  }, 120_000);
});
