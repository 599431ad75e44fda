import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CSRF_COOKIE, issueCsrfToken, maskToken, readCookie, verifyCsrf } from '../src/csrf';

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

  it('never hands out a pad or a secret twice across refills of the entropy pool', () => {
    const pads = new Set<string>();
    const cookies: string[] = [];
    const res = {
      appendHeader: (_name: string, value: string) => cookies.push(value.split(';')[0]!),
    } as unknown as ServerResponse;
    // 3 × 128 pads: the pool is refilled at least twice.
    for (let i = 0; i < 384; i++) {
      pads.add(maskToken(secret).slice(0, 43));
      issueCsrfToken(request({}), res);
    }
    expect(pads.size).toBe(384);
    const secrets = cookies.map((c) => c.slice(CSRF_COOKIE.length + 1));
    expect(new Set(secrets).size).toBe(384);
    // A secret issued before the refills still verifies a token masked from the cookie.
    const first = `${CSRF_COOKIE}=${secrets[0]!}`;
    const token = issueCsrfToken(request({ cookie: first }), res);
    expect(() => verifyCsrf(request({ cookie: first }), token)).not.toThrow();
    expect(cookies).toHaveLength(384);
  });
});
