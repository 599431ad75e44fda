import { randomFillSync, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dynamicError } from './errors';

/**
 * CSRF protection for the HTML forms, the way Django does it: a random secret in a cookie the
 * page's scripts cannot read (HttpOnly, SameSite=Strict), the same secret masked with a fresh
 * one-time pad in every form (so the token differs per response: no BREACH-style compression
 * oracle), and on every unsafe request the two must match. A forged cross-site form cannot read
 * the cookie, so it cannot produce the field. On top of that, a request whose `Origin` names
 * another site, or whose `Sec-Fetch-Site` says `cross-site`, is refused outright.
 * The JSON API needs no token: it accepts only `application/json` bodies, which a cross-site
 * form cannot send and cross-origin scripts cannot send without a CORS preflight we never grant.
 */
export const CSRF_COOKIE = 'netlab_csrf';
export const CSRF_FIELD = '_csrf';
const SECRET_BYTES = 32;

const b64 = (buf: Buffer): string => buf.toString('base64url');

// Every page needs a fresh one-time pad (and a new visitor a secret): one call into the CSPRNG per
// 128 of them instead of one each (randomBytes cost 3-6% of a page under load). Each byte is
// handed out once.
const POOL_PADS = 128;
const pool = Buffer.alloc(SECRET_BYTES * POOL_PADS);
let poolOffset = pool.length;

/** Fresh CSPRNG bytes from the pool: a view, valid until the pool is refilled (copy to keep). */
function freshPad(): Buffer {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const pad = pool.subarray(poolOffset, poolOffset + SECRET_BYTES);
  poolOffset += SECRET_BYTES;
  return pad;
}

/** Reads one cookie from a Cookie header (RFC 6265 §5.4); undefined when absent. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function decodeSecret(value: string | undefined): Buffer | undefined {
  if (value === undefined || !/^[A-Za-z0-9_-]{43}$/.test(value)) return undefined;
  const buf = Buffer.from(value, 'base64url');
  return buf.length === SECRET_BYTES ? buf : undefined;
}

/** A form token: pad ‖ (secret XOR pad), base64url. */
export function maskToken(secret: Buffer): string {
  const pad = freshPad();
  const token = Buffer.allocUnsafe(SECRET_BYTES * 2);
  for (let i = 0; i < SECRET_BYTES; i++) {
    token[i] = pad[i]!;
    token[SECRET_BYTES + i] = secret[i]! ^ pad[i]!;
  }
  return b64(token);
}

function unmaskToken(token: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]{86}$/.test(token)) return undefined;
  const buf = Buffer.from(token, 'base64url');
  if (buf.length !== SECRET_BYTES * 2) return undefined;
  const out = Buffer.alloc(SECRET_BYTES);
  for (let i = 0; i < SECRET_BYTES; i++) out[i] = buf[i]! ^ buf[i + SECRET_BYTES]!;
  return out;
}

/**
 * The secret of this browser: from its cookie, or a new one set on the response. Returns a fresh
 * masked token for the forms of the page being rendered.
 */
export function issueCsrfToken(req: IncomingMessage, res: ServerResponse): string {
  let secret = decodeSecret(readCookie(req.headers.cookie, CSRF_COOKIE));
  if (secret === undefined) {
    secret = Buffer.from(freshPad());
    res.appendHeader(
      'set-cookie',
      `${CSRF_COOKIE}=${b64(secret)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000`,
    );
  }
  return maskToken(secret);
}

function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site') return false;
  const origin = req.headers.origin;
  if (origin === undefined || origin === 'null') return origin === undefined;
  const host = req.headers['x-forwarded-host'] ?? req.headers.host;
  if (!URL.canParse(origin)) return false;
  return new URL(origin).host === host;
}

/** Throws CSRF_FAILED unless the form's token matches the cookie and the request is same-site. */
export function verifyCsrf(req: IncomingMessage, formToken: unknown): void {
  if (!sameOrigin(req)) {
    throw dynamicError('CSRF_FAILED', 'The form was posted from another site.');
  }
  const secret = decodeSecret(readCookie(req.headers.cookie, CSRF_COOKIE));
  const sent = typeof formToken === 'string' ? unmaskToken(formToken) : undefined;
  if (secret === undefined || sent === undefined || !timingSafeEqual(secret, sent)) {
    throw dynamicError(
      'CSRF_FAILED',
      'The form token is missing or does not match; reload the page and try again.',
    );
  }
}
