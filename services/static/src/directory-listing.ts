import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { escapeHtml } from './error-page';

export interface ListingEntry {
  readonly name: string;
  readonly type: 'file' | 'directory' | 'symlink' | 'other';
  /** Bytes, for files. */
  readonly size: number | undefined;
  readonly mtime: Date | undefined;
}

export interface Listing {
  readonly entries: readonly ListingEntry[];
  /** True when the directory holds more than `maxEntries` entries and the rest were left out. */
  readonly truncated: boolean;
}

/**
 * Reads up to `maxEntries` entries of `dir` (without loading a huge directory into memory), with
 * dotfiles left out unless allowed, sorted directories first, then by name. Symlinks are listed as
 * such, not followed: their targets may lie outside the root.
 */
export async function readListing(
  dir: string,
  opts: { maxEntries: number; dotfiles: boolean },
): Promise<Listing> {
  const names: { name: string; type: ListingEntry['type'] }[] = [];
  let truncated = false;
  const handle = await opendir(dir, { bufferSize: 64 });
  try {
    for await (const d of handle) {
      if (!opts.dotfiles && d.name.startsWith('.')) continue;
      if (names.length === opts.maxEntries) {
        truncated = true;
        break;
      }
      const type = d.isFile()
        ? 'file'
        : d.isDirectory()
          ? 'directory'
          : d.isSymbolicLink()
            ? 'symlink'
            : 'other';
      names.push({ name: d.name, type });
    }
  } finally {
    // Breaking out of `for await` closes the handle already; closing twice throws.
    await handle.close().catch(() => undefined);
  }
  const entries = await Promise.all(
    names.map(async ({ name, type }): Promise<ListingEntry> => {
      const st = await lstat(join(dir, name)).catch(() => undefined);
      return { name, type, size: type === 'file' ? st?.size : undefined, mtime: st?.mtime };
    }),
  );
  entries.sort(
    (a, b) =>
      Number(b.type === 'directory') - Number(a.type === 'directory') ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  return { entries, truncated };
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes / 1024;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u += 1;
  }
  return `${n.toFixed(1)} ${units[u]}`;
}

function formatDate(d: Date | undefined): string {
  return d === undefined ? '' : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * An HTML page for a listing. `urlPath` is the decoded directory path (ending in `/`); every name
 * is HTML-escaped as text and percent-encoded in its link, so no file name can inject markup.
 */
export function renderListingHtml(urlPath: string, listing: Listing): string {
  const title = `Index of ${escapeHtml(urlPath)}`;
  const rows: string[] = [];
  if (urlPath !== '/') rows.push('<tr><td><a href="../">../</a></td><td></td><td></td></tr>');
  for (const e of listing.entries) {
    const slash = e.type === 'directory' ? '/' : '';
    const href = `${encodeURIComponent(e.name)}${slash}`;
    const size = e.size === undefined ? '-' : formatSize(e.size);
    const exact = e.size === undefined ? '' : ` title="${e.size} bytes"`;
    rows.push(
      `<tr><td><a href="./${href}">${escapeHtml(e.name)}${slash}</a></td>` +
        `<td${exact}>${size}</td><td>${formatDate(e.mtime)}</td></tr>`,
    );
  }
  const more = listing.truncated
    ? '<p>This directory has more entries than the server lists.</p>'
    : '';
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${title}</title>` +
    '<style>body{font-family:system-ui,sans-serif;margin:2em}td{padding:0 1.5em 0 0}' +
    'td:nth-child(2){text-align:right}</style></head>\n' +
    `<body><h1>${title}</h1><table>\n<tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n` +
    `${rows.join('\n')}\n</table>${more}</body></html>\n`
  );
}

/** The same listing as JSON, for clients whose Accept prefers it. */
export function renderListingJson(urlPath: string, listing: Listing): string {
  return JSON.stringify({
    path: urlPath,
    truncated: listing.truncated,
    entries: listing.entries.map((e) => ({
      name: e.name,
      type: e.type,
      size: e.size ?? null,
      modified: e.mtime?.toISOString() ?? null,
    })),
  });
}
