/** The precompressed siblings the server looks for, in the server's order of preference. */
export const PRECOMPRESSED = [
  { encoding: 'br', suffix: '.br' },
  { encoding: 'gzip', suffix: '.gz' },
] as const;

export type Precompressed = (typeof PRECOMPRESSED)[number];

interface Weighted {
  readonly name: string;
  readonly q: number;
}

/** `a;q=0.5, b` → [{a, 0.5}, {b, 1}], names lower-cased; bad q-values count as 0. */
function parseWeightedList(header: string): Weighted[] {
  const out: Weighted[] = [];
  for (const item of header.split(',')) {
    const [rawName = '', ...params] = item.split(';');
    const name = rawName.trim().toLowerCase();
    if (name === '') continue;
    let q = 1;
    for (const p of params) {
      const [k = '', v = ''] = p.split('=');
      if (k.trim().toLowerCase() !== 'q') continue;
      const n = Number(v.trim());
      q = Number.isFinite(n) && n >= 0 && n <= 1 ? n : 0;
    }
    out.push({ name, q });
  }
  return out;
}

/**
 * The precompressed encodings an `Accept-Encoding` value accepts, best first (RFC 9110 §12.5.3):
 * by q-value, ties broken by {@link PRECOMPRESSED} order; `*` stands for any encoding not named;
 * `q=0` refuses.
 */
export function acceptedEncodings(header: string): Precompressed[] {
  const list = parseWeightedList(header);
  const wildcard = list.find((w) => w.name === '*');
  const scored: { p: Precompressed; q: number; order: number }[] = [];
  PRECOMPRESSED.forEach((p, order) => {
    const named = list.find(
      (w) => w.name === p.encoding || (p.encoding === 'gzip' && w.name === 'x-gzip'),
    );
    const q = named?.q ?? wildcard?.q ?? 0;
    if (q > 0) scored.push({ p, q, order });
  });
  return scored.sort((a, b) => b.q - a.q || a.order - b.order).map((s) => s.p);
}

/** The q-value the most specific matching media range gives `type/subtype` (RFC 9110 §12.5.1). */
function mediaQuality(list: readonly Weighted[], type: string): number {
  const [major = ''] = type.split('/');
  let best = -1;
  let q = 0;
  for (const w of list) {
    const specificity =
      w.name === type ? 2 : w.name === `${major}/*` ? 1 : w.name === '*/*' ? 0 : -1;
    if (specificity > best) {
      best = specificity;
      q = w.q;
    }
  }
  return q;
}

/**
 * Whether an error should be problem+json rather than HTML: only when `Accept` ranks JSON above
 * HTML. A browser's `text/html,…,*\/*;q=0.8` and curl's `*\/*` get HTML.
 */
export function prefersJson(accept: string | undefined): boolean {
  if (accept === undefined || !accept.includes('json')) return false;
  const list = parseWeightedList(accept);
  const json = Math.max(
    mediaQuality(list, 'application/problem+json'),
    mediaQuality(list, 'application/json'),
  );
  return json > mediaQuality(list, 'text/html');
}
