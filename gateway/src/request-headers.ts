import { BlockList } from 'node:net';
import { requestIdOf, type ClientRequest } from '@netlab/shared';
import type { TrustedNetwork } from './config';
import { gatewayError, type GatewayError } from './errors';

/**
 * One pass over the client's raw headers: what the gateway needs to know, and the list it
 * forwards (RFC 9110 §7.6.1: hop-by-hop headers, and any the client names in `Connection`, are
 * not forwarded). The forwarding headers (`X-Forwarded-*`, `Forwarded`, `Via`, `x-request-id`) are
 * added afterwards from the real peer, so a client cannot spoof them unless its address is trusted.
 */
export interface RequestFacts {
  /** Flat `[name, value, ...]` list to forward (without framing headers). */
  readonly headers: string[];
  readonly host: string | undefined;
  /** -1 when absent. */
  readonly contentLength: number;
  readonly chunked: boolean;
  readonly requestId: string;
  readonly accept: string | undefined;
  readonly upgrade: string | undefined;
  readonly xForwardedFor: string | undefined;
  readonly xForwardedProto: string | undefined;
  readonly xForwardedHost: string | undefined;
  readonly forwarded: string | undefined;
  readonly via: string | undefined;
}

// RFC 3986 §3.2.2 host, and an optional port: no spaces, slashes, `@` or other surprises.
const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::\d{1,5})?$/;

/** Headers never forwarded in either direction (RFC 9110 §7.6.1, RFC 9112 §9.6). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const FRAMING = new Set(['transfer-encoding', 'content-length', 'host', 'connection']);

export function isHopByHop(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName);
}

function appendList(a: string | undefined, b: string): string {
  return a === undefined ? b : `${a}, ${b}`;
}

/** Header names listed in `Connection`, except the standard tokens. */
export function connectionTokens(value: string): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t === '' || t === 'close' || t === 'keep-alive' || t === 'upgrade') continue;
    (tokens ??= new Set()).add(t);
  }
  return tokens;
}

/**
 * Reads the request's headers; a GatewayError when the request must not be forwarded (duplicate
 * or malformed Host, a transfer coding other than chunked, TE on HTTP/1.0, too many headers).
 */
export function inspectRequest(
  req: ClientRequest,
  maxHeaders: number,
  keepUpgrade: boolean,
): RequestFacts | GatewayError {
  const raw = req.rawHeaders;
  const n = raw.length;
  if (n > maxHeaders * 2) {
    return gatewayError('GATEWAY_HEADERS_TOO_LARGE', `More than ${maxHeaders} header fields.`);
  }
  const headers: string[] = [];
  let host: string | undefined;
  let hostCount = 0;
  let connection: string | undefined;
  let te: string | undefined;
  let cl: string | undefined;
  let requestId: string | undefined;
  let accept: string | undefined;
  let upgrade: string | undefined;
  let xff: string | undefined;
  let xfp: string | undefined;
  let xfh: string | undefined;
  let forwarded: string | undefined;
  let via: string | undefined;
  for (let i = 0; i < n; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    switch (name.toLowerCase()) {
      case 'host':
        hostCount++;
        host = value;
        break;
      case 'connection':
        connection = appendList(connection, value);
        break;
      case 'transfer-encoding':
        te = appendList(te, value);
        break;
      // Re-framed by the gateway: the pool writes its own Content-Length or chunked coding.
      case 'content-length':
        cl = value;
        break;
      case 'upgrade':
        upgrade = value;
        break;
      // Hop-by-hop; credentials meant for a proxy; `Expect` (Node answers `100 Continue` itself
      // and the upstream must not wait for a 100 of its own); `X-Real-IP` (rebuilt from the peer).
      case 'keep-alive':
      case 'proxy-connection':
      case 'te':
      case 'trailer':
      case 'proxy-authorization':
      case 'expect':
      case 'x-real-ip':
        break;
      case 'x-request-id':
        requestId = value;
        break;
      case 'x-forwarded-for':
        xff = appendList(xff, value);
        break;
      case 'x-forwarded-proto':
        xfp = value;
        break;
      case 'x-forwarded-host':
        xfh = value;
        break;
      case 'forwarded':
        forwarded = appendList(forwarded, value);
        break;
      case 'via':
        via = appendList(via, value);
        break;
      case 'accept':
        accept = value;
        headers.push(name, value);
        break;
      default:
        // `Transfer_Encoding` and friends: some servers read `_` as `-` (RFC 9110 §5.1 forbids
        // neither), so a framing header in disguise could smuggle past our framing.
        if (name.includes('_') && FRAMING.has(name.toLowerCase().replaceAll('_', '-'))) {
          return gatewayError('GATEWAY_BAD_REQUEST', `Ambiguous header ${name}.`);
        }
        headers.push(name, value);
    }
  }
  // RFC 9112 §3.2: more than one Host is a 400, and so is an invalid one.
  if (hostCount > 1) return gatewayError('GATEWAY_BAD_REQUEST', 'More than one Host header.');
  if (host !== undefined && !HOST_RE.test(host)) {
    return gatewayError('GATEWAY_BAD_REQUEST', 'Invalid Host header.');
  }
  let chunked = false;
  if (te !== undefined) {
    // RFC 9112 §6.1: TE in HTTP/1.0 means faulty framing; only `chunked` can frame a request.
    if (req.httpVersionMinor === 0 && req.httpVersionMajor === 1) {
      return gatewayError('GATEWAY_BAD_REQUEST', 'Transfer-Encoding in an HTTP/1.0 request.');
    }
    if (te.trim().toLowerCase() !== 'chunked') {
      return gatewayError('GATEWAY_BAD_REQUEST', 'Unsupported Transfer-Encoding.');
    }
    chunked = true;
  }
  if (connection !== undefined) {
    const tokens = connectionTokens(connection);
    if (tokens !== undefined) removeNamed(headers, tokens);
  }
  return {
    headers,
    host,
    contentLength: cl === undefined ? -1 : Number(cl),
    chunked,
    requestId: requestIdOf(requestId),
    accept,
    upgrade: keepUpgrade ? upgrade : undefined,
    xForwardedFor: xff,
    xForwardedProto: xfp,
    xForwardedHost: xfh,
    forwarded,
    via,
  };
}

function removeNamed(headers: string[], names: Set<string>): void {
  let w = 0;
  for (let r = 0; r < headers.length; r += 2) {
    if (names.has(headers[r]!.toLowerCase())) continue;
    headers[w++] = headers[r]!;
    headers[w++] = headers[r + 1]!;
  }
  headers.length = w;
}

/** Decides whether a peer may set forwarding headers: TRUSTED_PROXIES. */
export interface ProxyTrust {
  readonly any: boolean;
  isTrusted(ip: string): boolean;
}

export function createProxyTrust(networks: readonly TrustedNetwork[]): ProxyTrust {
  if (networks.length === 0) return { any: false, isTrusted: () => false };
  const list = new BlockList();
  for (const n of networks) list.addSubnet(n.address, n.prefix, n.family);
  return {
    any: true,
    isTrusted: (ip) => list.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4'),
  };
}

/** The peer address, with IPv4-mapped IPv6 (`::ffff:1.2.3.4`) unwrapped. */
export function peerAddress(req: ClientRequest): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/**
 * The client's address for rate limiting and logs: the peer, or, when the peer is a trusted
 * proxy, the right-most X-Forwarded-For entry that is not itself trusted.
 */
export function clientAddress(facts: RequestFacts, peer: string, trust: ProxyTrust): string {
  if (!trust.any || facts.xForwardedFor === undefined || !trust.isTrusted(peer)) return peer;
  const hops = facts.xForwardedFor.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (hop !== '' && !trust.isTrusted(hop)) return hop;
  }
  return peer;
}

function forwardedNode(ip: string): string {
  // RFC 7239 §6: IPv6 addresses are bracketed and the value quoted.
  return ip.includes(':') ? `"[${ip}]"` : ip;
}

const VIA_PSEUDONYM = 'netlab-gateway';

/**
 * Appends X-Forwarded-For/-Proto/-Host, Forwarded (RFC 7239), Via (RFC 9110 §7.6.3) and
 * x-request-id. Values the client sent are kept (and extended) only when the peer is trusted.
 */
export function addForwardingHeaders(
  facts: RequestFacts,
  req: ClientRequest,
  peer: string,
  trusted: boolean,
  host: string | undefined,
): void {
  const h = facts.headers;
  if (host !== undefined) h.push('host', host);
  h.push(
    'x-forwarded-for',
    trusted && facts.xForwardedFor !== undefined ? `${facts.xForwardedFor}, ${peer}` : peer,
  );
  h.push(
    'x-forwarded-proto',
    trusted && facts.xForwardedProto !== undefined ? facts.xForwardedProto : 'http',
  );
  const fwdHost = trusted && facts.xForwardedHost !== undefined ? facts.xForwardedHost : host;
  if (fwdHost !== undefined) h.push('x-forwarded-host', fwdHost);
  const own =
    host === undefined
      ? `for=${forwardedNode(peer)};proto=http`
      : `for=${forwardedNode(peer)};host="${host}";proto=http`;
  h.push(
    'forwarded',
    trusted && facts.forwarded !== undefined ? `${facts.forwarded}, ${own}` : own,
  );
  const hop = `${req.httpVersionMajor}.${req.httpVersionMinor} ${VIA_PSEUDONYM}`;
  h.push('via', facts.via === undefined ? hop : `${facts.via}, ${hop}`);
  h.push('x-request-id', facts.requestId);
}
