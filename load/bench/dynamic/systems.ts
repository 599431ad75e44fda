import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type PinnedCommand,
  pinnedSystem as pinnedProcess,
  pythonVenv,
  repoRoot,
  waitForHttp,
} from '../lib/index.ts';
import type { BenchSystem } from '../lib/index.ts';

/** The systems compared by run.ts: netlab's dynamic service and FastAPI on uvicorn. */

// From the working directory (make runs from the root): tsc sees load/ as CommonJS, where
// import.meta is refused, while Node runs these files as ES modules.
export const HERE = join(repoRoot(process.cwd()), 'load', 'bench', 'dynamic');
export const REPO = repoRoot(HERE);
export const VENV = join(HERE, '.peers', 'venv');
const DYNAMIC_MAIN = join(REPO, 'services', 'dynamic', 'dist', 'main.js');

/** Pinned peers (BENCHMARKING.md), installed with pip into the benchmark's own virtualenv. */
export const PEERS: Readonly<Record<string, string>> = {
  fastapi: '0.163.2',
  uvicorn: '0.54.0',
  // uvicorn[standard]'s event loop and HTTP parser: FastAPI's recommended production set-up.
  uvloop: '0.23.0',
  httptools: '0.9.0',
  jinja2: '3.1.6',
};

const venv = pythonVenv(VENV, PEERS);

export function installPeers(say: (line: string) => void): void {
  venv.install(say);
}

export function peerVersions(): string {
  return venv.versions();
}

/** A system on a free port, ready once the stock API answers. */
function pinnedSystem(name: string, command: (port: number) => PinnedCommand): BenchSystem {
  return pinnedProcess(name, command, {
    ready: (port) => waitForHttp(`http://127.0.0.1:${port}/api/stocks?limit=1`),
  });
}

/** netlab's dynamic service from its build, on the SQLite file, request logs off (uvicorn: --no-access-log). */
export function netlabDynamic(dbPath: string): BenchSystem {
  return pinnedSystem('netlab-dynamic', (port) => ({
    cmd: process.execPath,
    args: [DYNAMIC_MAIN],
    env: {
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      DATABASE_URL: `sqlite:${dbPath}`,
      NATS_URL: '',
    },
  }));
}

/** FastAPI on uvicorn (uvloop + httptools), one worker, the same queries on the same file. */
export function fastapi(dbPath: string, mode: 'sync' | 'async'): BenchSystem {
  return pinnedSystem(mode === 'sync' ? 'fastapi' : 'fastapi-async', (port) => ({
    cmd: venv.python,
    args: [
      '-m',
      'uvicorn',
      'fastapi_app:app',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--no-access-log',
      '--log-level',
      'warning',
      '--loop',
      'uvloop',
      '--http',
      'httptools',
    ],
    cwd: join(HERE, 'peers'),
    env: { STOCK_DB: dbPath, FASTAPI_MODE: mode },
  }));
}

export function dynamicVersion(): string {
  return (
    JSON.parse(readFileSync(join(REPO, 'services', 'dynamic', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
}
