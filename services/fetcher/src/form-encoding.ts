/**
 * Query strings and form bodies encoded byte for byte as Python's
 * `urllib.parse.urlencode(pairs, doseq=True)` (what `requests` uses for `params=` and `data=`):
 * space becomes `+`, and everything but `A-Z a-z 0-9 _ . - ~` is percent-encoded as UTF-8.
 * `URLSearchParams` differs (it keeps `*` and encodes `~`), hence this file.
 */

export type Pair = [string, string];
export type MultiMap = Record<string, string | string[] | null> | Pair[];

/** A mapping or pair list, flattened to pairs in order; null values are dropped (as `None`). */
export function toPairs(value: MultiMap | undefined): Pair[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value;
  const out: Pair[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (v === null) continue;
    if (Array.isArray(v)) for (const item of v) out.push([k, item]);
    else out.push([k, v]);
  }
  return out;
}

const EXTRA = /[!'()*]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Python's `quote_plus(s, safe='')`. Lone surrogates become U+FFFD first. */
export function quotePlus(s: string): string {
  return encodeURIComponent(s.replace(LONE_SURROGATE, '\uFFFD'))
    .replace(EXTRA, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

export function formEncode(pairs: readonly Pair[]): string {
  let out = '';
  for (const [k, v] of pairs) {
    if (out !== '') out += '&';
    out += `${quotePlus(k)}=${quotePlus(v)}`;
  }
  return out;
}

/**
 * Appends encoded params to a URL's query, after what is already there, as `requests` does
 * (`?a=1` + `{b: 2}` → `?a=1&b=2`).
 */
export function appendParams(url: URL, pairs: readonly Pair[]): void {
  if (pairs.length === 0) return;
  const encoded = formEncode(pairs);
  const existing = url.search.length > 1 ? url.search.slice(1) : '';
  url.search = existing === '' ? encoded : `${existing}&${encoded}`;
}
