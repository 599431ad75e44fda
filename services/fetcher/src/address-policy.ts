import ipaddr from 'ipaddr.js';

/**
 * Which addresses the fetcher may connect to. Deny by default everything that is not global
 * unicast (loopback, RFC 1918, link-local and the cloud metadata address 169.254.169.254, CGNAT,
 * unique-local, IPv4-mapped and -compatible IPv6, NAT64, 6to4, Teredo, multicast, unspecified,
 * reserved and documentation ranges); the allow-list opens exactly what the operator names.
 *
 * The check runs on the address a connection is about to dial (guarded-connector.ts), never on
 * the URL string, so that no spelling of an address and no DNS answer can slip past it.
 */

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** One allow-list entry: an address range or a host name, optionally limited to ports. */
export type AllowEntry =
  | { kind: 'cidr'; text: string; range: [Address, number]; ports: PortRange | undefined }
  | { kind: 'host'; text: string; host: string; wildcard: boolean; ports: PortRange | undefined };

export interface PortRange {
  from: number;
  to: number;
}

export interface AddressVerdict {
  allowed: boolean;
  /** The ipaddr.js range name (`loopback`, `private`, `linkLocal`, …), or `unicast`. */
  range: string;
  /** Set when the allow-list let it through. */
  allowedBy?: string;
}

export interface AddressPolicy {
  readonly entries: readonly AllowEntry[];
  /** The verdict for dialling `address` (an IP literal) on `port`, reached through `hostname`. */
  check(hostname: string, address: string, port: number): AddressVerdict;
}

// 2000::/3 is the only IPv6 space assigned for global unicast (RFC 4291 §2.4); anything outside
// it (IPv4-compatible ::/96 included, which ipaddr.js calls plain unicast) is denied.
const GLOBAL_UNICAST_V6: [Address, number] = [ipaddr.parse('2000::'), 3];

/** Range name of an address and whether it is public (global unicast). */
export function classifyAddress(address: string): { range: string; isPublic: boolean } {
  const parsed = parseAddress(address);
  if (parsed === undefined) return { range: 'invalid', isPublic: false };
  const range = parsed.range();
  if (parsed.kind() === 'ipv4') return { range, isPublic: range === 'unicast' };
  const isPublic = range === 'unicast' && parsed.match(GLOBAL_UNICAST_V6);
  return { range: range === 'unicast' && !isPublic ? 'nonGlobal' : range, isPublic };
}

/**
 * One spelling per socket address: IPv6 canonical, IPv4-mapped IPv6 as its IPv4. For comparing
 * the peer of a socket with the address that was checked.
 */
export function addressKey(address: string): string | undefined {
  const parsed = parseAddress(address);
  if (parsed === undefined) return undefined;
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (parsed as ipaddr.IPv6).toIPv4Address().toString();
  }
  return parsed.toString();
}

function parseAddress(address: string): Address | undefined {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  // ipaddr.isValid accepts IPv4 shorthands (`127.1`) that net.connect would not dial as such;
  // only the strict forms reach here from the resolver, so parse strictly.
  if (ipaddr.IPv4.isValidFourPartDecimal(bare)) return ipaddr.IPv4.parse(bare);
  if (!bare.includes(':')) return undefined;
  // ipaddr.js reads `::127.0.0.1` as IPv4-mapped (::ffff:7f00:1), while sockets and URLs read it
  // as IPv4-compatible (::7f00:1): canonicalize with the WHATWG URL parser, which the rest of the
  // fetcher uses, and which writes no dotted quads, before ipaddr.js sees the text.
  let canonical: string;
  try {
    canonical = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  return ipaddr.IPv6.isValid(canonical) ? ipaddr.IPv6.parse(canonical) : undefined;
}

function parsePorts(text: string, entry: string): PortRange {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  const from = Number(m?.[1]);
  const to = m?.[2] === undefined ? from : Number(m[2]);
  if (m === null || from < 1 || to > 65535 || from > to) {
    throw new Error(`${entry}: the port must be N or N-M, within 1-65535`);
  }
  return { from, to };
}

const HOST_NAME = /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*)$/;

function parseEntry(raw: string): AllowEntry {
  let text = raw.trim();
  let ports: PortRange | undefined;
  // `[v6]:port`, `[v6/bits]:port`, `v4:port`, `v4/bits:port`, `host:port`; a bare IPv6 has no port.
  const bracketed = /^\[([^\]]+)\](?::(.+))?$/.exec(text);
  if (bracketed !== null) {
    text = bracketed[1]!;
    if (bracketed[2] !== undefined) ports = parsePorts(bracketed[2], raw);
  } else if ((text.match(/:/g) ?? []).length === 1) {
    const i = text.indexOf(':');
    ports = parsePorts(text.slice(i + 1), raw);
    text = text.slice(0, i);
  }
  const slash = text.indexOf('/');
  const addressPart = slash === -1 ? text : text.slice(0, slash);
  if (ipaddr.isValid(addressPart) && parseAddress(addressPart) !== undefined) {
    const addr = parseAddress(addressPart)!;
    const max = addr.kind() === 'ipv4' ? 32 : 128;
    const suffix = slash === -1 ? String(max) : text.slice(slash + 1);
    const bits = Number(suffix);
    if (!/^\d{1,3}$/.test(suffix) || bits > max) {
      throw new Error(`${raw}: the prefix length must be 0-${max}`);
    }
    return { kind: 'cidr', text: raw.trim(), range: [addr, bits], ports };
  }
  const host = text.toLowerCase().replace(/\.$/, '');
  const m = HOST_NAME.exec(host);
  if (m === null || slash !== -1) {
    throw new Error(
      `${raw}: expected an address (127.0.0.1, ::1), a range (10.0.0.0/8), a host name (static, *.lab.internal), each optionally with :PORT or :FROM-TO`,
    );
  }
  return { kind: 'host', text: raw.trim(), host: m[2]!, wildcard: m[1] !== undefined, ports };
}

/** Parses `FETCH_ALLOW`: comma-separated entries. Throws with a message naming a bad entry. */
export function parseAllowList(text: string): AllowEntry[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(parseEntry);
}

function portMatches(ports: PortRange | undefined, port: number): boolean {
  return ports === undefined || (port >= ports.from && port <= ports.to);
}

function hostMatches(entry: { host: string; wildcard: boolean }, hostname: string): boolean {
  if (!entry.wildcard) return hostname === entry.host;
  return hostname.endsWith(`.${entry.host}`);
}

function cidrMatches(range: [Address, number], addr: Address): boolean {
  const [base, bits] = range;
  if (base.kind() === addr.kind()) return addr.match(range);
  // An allow-listed IPv4 range also admits its IPv4-mapped IPv6 spelling: the same socket.
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (addr as ipaddr.IPv6).toIPv4Address().match(base, bits);
  }
  return false;
}

export function createAddressPolicy(entries: readonly AllowEntry[]): AddressPolicy {
  const cidrs = entries.filter((e) => e.kind === 'cidr');
  const hosts = entries.filter((e) => e.kind === 'host');
  return {
    entries,
    check(hostname, address, port) {
      const { range, isPublic } = classifyAddress(address);
      if (isPublic) return { allowed: true, range };
      const name = hostname
        .toLowerCase()
        .replace(/^\[|\]$/g, '')
        .replace(/\.$/, '');
      for (const h of hosts) {
        if (hostMatches(h, name) && portMatches(h.ports, port)) {
          return { allowed: true, range, allowedBy: h.text };
        }
      }
      const addr = parseAddress(address);
      if (addr !== undefined) {
        for (const c of cidrs) {
          if (cidrMatches(c.range, addr) && portMatches(c.ports, port)) {
            return { allowed: true, range, allowedBy: c.text };
          }
        }
      }
      return { allowed: false, range };
    },
  };
}
