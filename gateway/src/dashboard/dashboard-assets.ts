import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';

/**
 * The page's files, served by the gateway itself (no build step, no CDN): the page from
 * `gateway/dashboard/`, uPlot from the installed `uplot` package. A handful of small files read
 * once at start and kept in memory with their ETags; URLs map to this fixed list, never to paths.
 */
export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

/** Where the page's own files are: `gateway/dashboard` next to `dist/`. */
export const DASHBOARD_DIR = join(__dirname, '..', '..', 'dashboard');

const SOURCES: Readonly<Record<string, { file: () => string; contentType: string }>> = {
  'index.html': {
    file: () => join(DASHBOARD_DIR, 'index.html'),
    contentType: 'text/html; charset=utf-8',
  },
  'dashboard.js': {
    file: () => join(DASHBOARD_DIR, 'dashboard.js'),
    contentType: 'text/javascript; charset=utf-8',
  },
  'dashboard.css': {
    file: () => join(DASHBOARD_DIR, 'dashboard.css'),
    contentType: 'text/css; charset=utf-8',
  },
  'uplot.js': {
    file: () => require.resolve('uplot/dist/uPlot.iife.min.js'),
    contentType: 'text/javascript; charset=utf-8',
  },
  'uplot.css': {
    file: () => require.resolve('uplot/dist/uPlot.min.css'),
    contentType: 'text/css; charset=utf-8',
  },
};

/** Only the page's own origin: scripts, styles and the event stream. */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface DashboardAssets {
  get(name: string): Asset | undefined;
  /** Files that could not be read (a build without the page): named in the 404. */
  readonly missing: readonly string[];
}

export function loadDashboardAssets(): DashboardAssets {
  const assets = new Map<string, Asset>();
  const missing: string[] = [];
  for (const [name, src] of Object.entries(SOURCES)) {
    try {
      const body = readFileSync(src.file());
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      assets.set(name, { body, contentType: src.contentType, etag });
    } catch {
      missing.push(name);
    }
  }
  return { get: (name) => assets.get(name), missing };
}

export function sendAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  const headers: Record<string, string | number> = {
    'content-type': asset.contentType,
    etag: asset.etag,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  };
  if (asset.contentType.startsWith('text/html')) {
    headers['content-security-policy'] = PAGE_CSP;
    headers['referrer-policy'] = 'no-referrer';
  }
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  headers['content-length'] = asset.body.length;
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
