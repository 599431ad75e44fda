/**
 * Turns a request-target into a path under the root, or says why it cannot be one. The checks run
 * on the decoded path, which is what the file system will see, and the path is decoded exactly
 * once: `%252e%252e` stays the literal name `%2e%2e`.
 */
export type RequestPath =
  | {
      readonly kind: 'ok';
      /** Decoded, starts with `/`, no dot segments, no NUL, runs of `/` collapsed. */
      readonly path: string;
      /** The path as sent (still percent-encoded), for redirects. */
      readonly rawPath: string;
      /** `?…` as sent, or the empty string. */
      readonly query: string;
    }
  /** 400: not origin-form, malformed percent-encoding, NUL, backslash. */
  | { readonly kind: 'bad'; readonly reason: string }
  /** 403: a `.` or `..` segment, encoded or not. */
  | { readonly kind: 'dot-segment' }
  /** 404: a segment starting with `.` while dotfiles are hidden. */
  | { readonly kind: 'hidden' };

const ABSOLUTE_FORM = /^https?:\/\/[^/?#]*/i;
const SLASH_DOT = /\/\./;
const SLASH_RUN = /\/{2,}/g;

/**
 * Parses `req.url`. Origin-form (`/a/b?q`) is the norm; absolute-form (`http://host/a`) is
 * accepted as RFC 9112 §3.2.2 requires of servers.
 */
export function parseRequestPath(url: string, dotfiles: boolean): RequestPath {
  let target = url;
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    const authority = ABSOLUTE_FORM.exec(target);
    if (authority === null) return { kind: 'bad', reason: 'the request target is not a path' };
    target = target.slice(authority[0].length);
    if (target === '' || target.charCodeAt(0) === 0x3f /* ? */) target = `/${target}`;
    if (target.charCodeAt(0) !== 0x2f)
      return { kind: 'bad', reason: 'the request target is not a path' };
  }
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  if (rawPath.includes('#')) return { kind: 'bad', reason: 'a request path has no fragment' };

  let path = rawPath;
  if (path.includes('%')) {
    try {
      path = decodeURIComponent(path);
    } catch {
      // Also catches overlong and other invalid UTF-8 such as %c0%ae.
      return { kind: 'bad', reason: 'the path has malformed percent-encoding' };
    }
  }
  if (path.includes('\0')) return { kind: 'bad', reason: 'the path contains NUL' };
  // A file name may hold a backslash on POSIX, but nobody means one: it is a Windows separator.
  if (path.includes('\\')) return { kind: 'bad', reason: 'the path contains a backslash' };
  if (path.includes('//')) path = path.replace(SLASH_RUN, '/');

  if (SLASH_DOT.test(path)) {
    let hidden = false;
    for (const segment of path.split('/')) {
      if (segment === '.' || segment === '..') return { kind: 'dot-segment' };
      if (segment.startsWith('.')) hidden = true;
    }
    if (hidden && !dotfiles) return { kind: 'hidden' };
  }
  return { kind: 'ok', path, rawPath, query };
}

/**
 * The `Location` of the redirect that adds a trailing slash to a directory URL. Leading slashes
 * collapse to one, or `//evil.example/` would be a protocol-relative open redirect.
 */
export function directoryRedirect(rawPath: string, query: string): string {
  let i = 0;
  while (rawPath.charCodeAt(i) === 0x2f && i < rawPath.length) i += 1;
  return `/${rawPath.slice(i)}/${query}`;
}
