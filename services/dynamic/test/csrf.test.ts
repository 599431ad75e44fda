import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { CSRF_COOKIE, maskToken, readCookie, verifyCsrf } from '../src/csrf';

const secret = randomBytes(32);
const cookie = `a=1; ${CSRF_COOKIE}=${secret.toString('base64url')}; b=2`;
const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('CSRF tokens', () => {
  it('reads one cookie out of a Cookie header', () => {
    expect(readCookie(cookie, 'b')).toBe('2');
    expect(readCookie(cookie, 'c')).toBeUndefined();
    expect(readCookie(undefined, 'a')).toBeUndefined();
  });

  it('accepts any masking of the cookie secret, and nothing else', () => {
    const a = maskToken(secret);
    const b = maskToken(secret);
    expect(a).not.toBe(b);
    expect(() => verifyCsrf(request({ cookie, host: 'h' }), a)).not.toThrow();
    expect(() => verifyCsrf(request({ cookie, host: 'h' }), b)).not.toThrow();
    expect(() => verifyCsrf(request({ cookie }), maskToken(randomBytes(32)))).toThrow(
      /does not match/,
    );
    expect(() => verifyCsrf(request({ cookie }), a.slice(0, -1))).toThrow(/missing/);
    expect(() => verifyCsrf(request({ cookie }), undefined)).toThrow(/missing/);
    expect(() => verifyCsrf(request({}), a)).toThrow(/missing/);
  });

  it('refuses another origin, an opaque origin and a cross-site fetch', () => {
    const token = maskToken(secret);
    expect(() =>
      verifyCsrf(request({ cookie, host: 'h:1', origin: 'http://h:1' }), token),
    ).not.toThrow();
    expect(() =>
      verifyCsrf(request({ cookie, host: 'h:1', origin: 'http://evil:1' }), token),
    ).toThrow(/another site/);
    expect(() => verifyCsrf(request({ cookie, host: 'h:1', origin: 'null' }), token)).toThrow(
      /another site/,
    );
    expect(() => verifyCsrf(request({ cookie, 'sec-fetch-site': 'cross-site' }), token)).toThrow(
      /another site/,
    );
    expect(() =>
      verifyCsrf(request({ cookie, 'sec-fetch-site': 'same-origin' }), token),
    ).not.toThrow();
  });
});
