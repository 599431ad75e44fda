import { classifyAddress, createAddressPolicy, parseAllowList } from '../src/address-policy';

// Classification only: nothing here connects anywhere.
describe('classifyAddress', () => {
  const denied: [string, string][] = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.255', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.170', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['::ffff:127.0.0.1', 'ipv4Mapped'],
    ['::ffff:8.8.8.8', 'ipv4Mapped'],
    ['::ffff:0:127.0.0.1', 'rfc6145'],
    ['64:ff9b::7f00:1', 'rfc6052'],
    ['64:ff9b:1::1', 'rfc6052'],
    ['2002:7f00:1::1', '6to4'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
    ['ff02::1', 'multicast'],
    ['fec0::1', 'deprecatedSiteLocal'],
    ['2001:db8::1', 'reserved'],
    ['100::1', 'discard'],
    ['::7f00:1', 'nonGlobal'],
    ['::127.0.0.1', 'nonGlobal'],
  ];
  it.each(denied)('%s is %s and not public', (address, range) => {
    expect(classifyAddress(address)).toEqual({ range, isPublic: false });
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
  ])('%s is public', (address) => {
    expect(classifyAddress(address).isPublic).toBe(true);
  });

  it('reads ::127.0.0.1 as IPv4-compatible, as sockets do, not as IPv4-mapped as ipaddr.js would', () => {
    // Regression: ipaddr.js alone parses it as ::ffff:7f00:1, a parser differential.
    expect(classifyAddress('::127.0.0.1').range).toBe('nonGlobal');
    expect(classifyAddress('::ffff:1.2.3.4').range).toBe('ipv4Mapped');
  });

  it('calls garbage invalid, not public', () => {
    expect(classifyAddress('127.1')).toEqual({ range: 'invalid', isPublic: false });
    expect(classifyAddress('example.com')).toEqual({ range: 'invalid', isPublic: false });
  });
});

describe('parseAllowList', () => {
  it('reads addresses, ranges and host names, each with optional ports', () => {
    const entries = parseAllowList(
      '127.0.0.1, 10.0.0.0/8:80-90, [::1]:8081, fd00::/8, static, *.lab.internal:443',
    );
    expect(entries.map((e) => [e.kind, e.ports])).toEqual([
      ['cidr', undefined],
      ['cidr', { from: 80, to: 90 }],
      ['cidr', { from: 8081, to: 8081 }],
      ['cidr', undefined],
      ['host', undefined],
      ['host', { from: 443, to: 443 }],
    ]);
  });

  it.each([
    '10.0.0.0/33',
    '127.0.0.1:0',
    '127.0.0.1:70000',
    'host:9-1',
    'bad host',
    '::1/129',
    'a/b',
  ])('refuses %s with a message naming it', (entry) => {
    expect(() => parseAllowList(entry)).toThrow(entry);
  });

  it('takes an empty list as deny-all', () => {
    expect(parseAllowList(' , ')).toEqual([]);
  });
});

describe('createAddressPolicy', () => {
  const policy = createAddressPolicy(
    parseAllowList('127.0.0.1:8080-8084, 10.1.0.0/16, static, *.lab.internal:443, [::1]:9000'),
  );

  it('allows public addresses on any port', () => {
    expect(policy.check('example.com', '93.184.216.34', 25)).toEqual({
      allowed: true,
      range: 'unicast',
    });
  });

  it('denies loopback outside the allowed ports', () => {
    expect(policy.check('127.0.0.1', '127.0.0.1', 22)).toEqual({
      allowed: false,
      range: 'loopback',
    });
    expect(policy.check('127.0.0.1', '127.0.0.1', 8082).allowed).toBe(true);
  });

  it('allows a listed range and its IPv4-mapped spelling', () => {
    expect(policy.check('x', '10.1.2.3', 80).allowed).toBe(true);
    expect(policy.check('x', '::ffff:10.1.2.3', 80).allowed).toBe(true);
    expect(policy.check('x', '10.2.0.1', 80).allowed).toBe(false);
  });

  it('allows a listed host name whatever it resolves to, and wildcards only match subdomains', () => {
    expect(policy.check('static', '172.18.0.5', 8081)).toEqual({
      allowed: true,
      range: 'private',
      allowedBy: 'static',
    });
    expect(policy.check('STATIC.', '172.18.0.5', 8081).allowed).toBe(true);
    expect(policy.check('db.lab.internal', '172.18.0.6', 443).allowed).toBe(true);
    expect(policy.check('db.lab.internal', '172.18.0.6', 3306).allowed).toBe(false);
    expect(policy.check('lab.internal', '172.18.0.6', 443).allowed).toBe(false);
    expect(policy.check('evilstatic', '172.18.0.5', 8081).allowed).toBe(false);
  });

  it('matches IPv6 entries with ports', () => {
    expect(policy.check('::1', '::1', 9000).allowed).toBe(true);
    expect(policy.check('::1', '::1', 9001).allowed).toBe(false);
  });

  it('denies everything private with an empty list', () => {
    const none = createAddressPolicy([]);
    for (const a of [
      '127.0.0.1',
      '::1',
      '10.0.0.1',
      '169.254.169.254',
      '::ffff:127.0.0.1',
      '0.0.0.0',
    ]) {
      expect(none.check(a, a, 80).allowed).toBe(false);
    }
  });
});
