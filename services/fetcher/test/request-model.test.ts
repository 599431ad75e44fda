import { fetchRequestSchema, parseFetchRequest } from '../src/request-model';

describe('parseFetchRequest', () => {
  it('fills defaults: GET, redirects followed', () => {
    expect(parseFetchRequest({ url: 'http://x/' })).toMatchObject({
      method: 'GET',
      allowRedirects: true,
    });
  });

  it('gives the schema\'s own output on the fast path for a bare {"url"}', () => {
    for (const url of ['http://x/', 'https://example.org/a?b=1', 'x'.repeat(16_384)]) {
      expect(parseFetchRequest({ url })).toStrictEqual(fetchRequestSchema.parse({ url }));
    }
    for (const url of ['', 'x'.repeat(16_385), 3]) {
      expect(() => parseFetchRequest({ url })).toThrow(
        expect.objectContaining({ code: 'FETCH_INVALID_REQUEST' }) as Error,
      );
    }
    // Any other key, even one JSON.parse makes an own property, goes through the strict schema.
    expect(() => parseFetchRequest(JSON.parse('{"url": "http://x/", "__proto__": {}}'))).toThrow(
      expect.objectContaining({ code: 'FETCH_INVALID_REQUEST' }) as Error,
    );
  });

  it('takes requests-style auth tuples and upper-cases the method', () => {
    expect(parseFetchRequest({ url: 'http://x/', method: 'post', auth: ['u', 'p'] })).toMatchObject(
      {
        method: 'POST',
        auth: { type: 'basic', username: 'u', password: 'p' },
      },
    );
  });

  it.each([
    [{}, 'url'],
    [{ url: 'http://x/', headers: { 'Bad Name': 'v' } }, 'headers'],
    [{ url: 'http://x/', headers: { x: 'a\r\nInjected: 1' } }, 'CR, LF'],
    [{ url: 'http://x/', headers: { 'Transfer-Encoding': 'chunked' } }, 'set by the fetcher'],
    [{ url: 'http://x/', json: {}, data: { a: '1' } }, 'one body'],
    [{ url: 'http://x/', files: { f: {} } }, 'exactly one of path and content'],
    [{ url: 'http://x/', session: '../etc' }, 'session'],
    [{ url: 'http://x/', method: 'CONNECT' }, 'CONNECT'],
    [{ url: 'http://x/', unknown: 1 }, 'unknown'],
    [{ url: 'http://x/', timeout: -1 }, 'timeout'],
    [{ url: 'http://x/', cookies: { a: 'b;c' } }, 'cookies'],
  ])('refuses %j, naming %s', (input, fragment) => {
    expect(() => parseFetchRequest(input)).toThrow(
      expect.objectContaining({ code: 'FETCH_INVALID_REQUEST' }) as Error,
    );
    expect(() => parseFetchRequest(input)).toThrow(
      new RegExp(fragment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i'),
    );
  });
});
