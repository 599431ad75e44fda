/**
 * Normalises a request path before it is matched, so that no spelling of a path reaches a route
 * its normal form would not (`/x/../api`, `/%2e%2e/api`, `//api`):
 *
 * - percent-encoded unreserved characters are decoded (RFC 3986 §6.2.2.2), other escapes are kept
 *   with upper-case hex (§6.2.2.1);
 * - an encoded `/`, `\`, NUL or control character, a raw `\` and a malformed escape are refused
 *   (`undefined`): upstreams disagree on what they mean, so none of them is safe to forward;
 * - duplicate slashes are merged and dot segments removed (§5.2.4); `..` never climbs above `/`.
 *
 * The result is what the gateway matches *and* forwards, so upstream and gateway see one path.
 */
export function normalizePath(raw: string): string | undefined {
  if (raw.charCodeAt(0) !== 0x2f) return undefined;
  // Most paths need nothing: one scan for `%`, `\`, `//` and `/.`.
  let prev = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25 || c === 0x5c || (prev === 0x2f && (c === 0x2f || c === 0x2e))) {
      return normalizeSlow(raw);
    }
    prev = c;
  }
  return raw;
}

const HEX = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x7e
  );
}

function normalizeSlow(raw: string): string | undefined {
  let decoded = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x5c) return undefined;
    if (c !== 0x25) {
      decoded += raw[i];
      continue;
    }
    const hi = hexValue(raw.charCodeAt(i + 1));
    const lo = hexValue(raw.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return undefined;
    const v = hi * 16 + lo;
    if (isUnreserved(v)) decoded += String.fromCharCode(v);
    else if (v === 0x2f || v === 0x5c || v < 0x20 || v === 0x7f) return undefined;
    else decoded += `%${HEX[hi]}${HEX[lo]}`;
    i += 2;
  }
  const segments = decoded.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i];
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s!);
  }
  const last = segments[segments.length - 1];
  const trailingSlash = last === '' || last === '.' || last === '..';
  return out.length === 0 ? '/' : `/${out.join('/')}${trailingSlash ? '/' : ''}`;
}
