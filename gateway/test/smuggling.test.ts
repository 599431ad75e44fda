import { createServer } from 'node:http';
import { listen } from '@netlab/shared/testing';
import {
  addUpstream,
  rawExchange,
  startGateway,
  type RunningGateway,
  type Upstream,
} from './helpers';

jest.setTimeout(20_000);

/**
 * A request-smuggling corpus. The upstream is deliberately lenient (Node's insecure parser, like
 * the back ends these attacks aim at) and records every request it parses. A request smuggled
 * past the gateway would show up there as `/smuggled`; the gateway must either refuse the
 * message or forward exactly the one request it parsed, re-framed by itself.
 */
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n';
const hex = (s: string) => s.length.toString(16);

type Expectation = 'rejected' | 'one' | 'at-most-one';

const corpus: [string, string, Expectation][] = [
  [
    'CL.TE',
    `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${5 + SMUGGLED.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'TE.CL',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${hex(SMUGGLED)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
    'rejected',
  ],
  [
    'duplicate Content-Length',
    `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'Content-Length with a sign',
    `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'space before the colon',
    `POST / HTTP/1.1\r\nHost: a\r\nContent-Length : ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'TE: xchunked',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'TE with a space before the colon',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'two TE headers',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'TE: chunked, identity',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'TE: identity, chunked',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'TE: "chunked"',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'TE with a vertical tab',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'Transfer_Encoding',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'TE in HTTP/1.0',
    `POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'obs-fold hiding TE',
    `POST / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'obs-fold of the TE value',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  ['bare LF line endings', `GET / HTTP/1.1\nHost: a\n\n${SMUGGLED}`, 'rejected'],
  [
    'bare LF inside the head',
    `POST / HTTP/1.1\r\nHost: a\nContent-Length: 0\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  [
    'bare CR inside a value',
    `POST / HTTP/1.1\r\nHost: a\r\nX: a\rContent-Length: 0\r\n\r\n${SMUGGLED}`,
    'rejected',
  ],
  ['NUL in a header', `GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n${SMUGGLED}`, 'rejected'],
  ['duplicate Host', `GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n${SMUGGLED}`, 'rejected'],
  [
    'chunk extension with a bare LF',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
    'at-most-one',
  ],
  [
    'chunk extension hiding a chunk',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x="\r\n0\r\n\r\n${SMUGGLED}"\r\nhello\r\n0\r\n\r\n`,
    'at-most-one',
  ],
  [
    'chunk size in hex notation',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x${hex(SMUGGLED)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
    'at-most-one',
  ],
  [
    'overflowing chunk size',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\n${SMUGGLED}\r\n0\r\n\r\n`,
    'at-most-one',
  ],
  [
    'chunk with a bare LF after the data',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n${SMUGGLED}`,
    'at-most-one',
  ],
  [
    'a GET with a Content-Length body',
    `GET / HTTP/1.1\r\nHost: a\r\nContent-Length: ${SMUGGLED.length}\r\nConnection: close\r\n\r\n${SMUGGLED}`,
    'one',
  ],
  [
    'a valid chunked body holding a request',
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${hex(SMUGGLED)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
    'one',
  ],
];

describe('request smuggling corpus', () => {
  let gw: RunningGateway;
  const seen: string[] = [];
  let upstream: Upstream;

  beforeAll(async () => {
    const server = createServer({ insecureHTTPParser: true }, (req, res) => {
      if (!req.url?.includes('readyz')) seen.push(req.url ?? '');
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    const { port } = await listen(server, 0, '127.0.0.1');
    upstream = {
      server,
      port,
      url: `http://127.0.0.1:${port}`,
      seen: [],
      ready: true,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
    gw = await startGateway({ settings: { headersTimeoutMs: 300, requestTimeoutMs: 600 } });
    await addUpstream(gw.gateway, 'static', upstream);
  });
  afterAll(async () => {
    await gw.close();
    upstream.server.closeAllConnections();
    await upstream.close();
  });

  it.each(corpus)('%s: nothing is smuggled', async (_name, payload, expectation) => {
    seen.length = 0;
    const res = await rawExchange(gw.port, payload, 800);
    expect(seen.filter((u) => u.includes('smuggled'))).toEqual([]);
    switch (expectation) {
      case 'rejected':
        expect(res.status).toBe(400);
        expect(seen).toEqual([]);
        break;
      case 'one':
        expect(res.status).toBe(200);
        expect(seen).toEqual(['/']);
        break;
      default:
        expect(seen.length).toBeLessThanOrEqual(1);
        expect(res.status === undefined || res.status >= 400).toBe(true);
    }
  });

  it('forwards pipelined requests one by one, as the gateway parsed them (the control case)', async () => {
    seen.length = 0;
    const res = await rawExchange(
      gw.port,
      'GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
      800,
    );
    expect(res.text.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    expect(seen).toEqual(['/a', '/b']);
  });
});
