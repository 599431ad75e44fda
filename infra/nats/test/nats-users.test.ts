import { readFileSync } from 'node:fs';
import {
  advertisedHost,
  firstExternalAddress,
  generateNatsPasswords,
  inboxPrefixFor,
  isSafeNatsPassword,
  NATS_USERS,
  natsPasswordEnv,
  natsPasswordVariable,
  securedNatsConfigFile,
  SERVICE_NAMES,
} from '@netlab/shared';

const conf = readFileSync(securedNatsConfigFile(), 'utf8');

describe('the NATS users of infra/nats/nats.conf', () => {
  it('has one user per part and admin, each reading its password from its variable', () => {
    expect([...NATS_USERS]).toEqual([...SERVICE_NAMES, 'admin']);
    for (const user of NATS_USERS) {
      expect(conf).toMatch(
        new RegExp(`user: ${user}\\s+password: \\$${natsPasswordVariable(user)}\\s`),
      );
    }
    expect(natsPasswordVariable('tcp-echo')).toBe('NATS_TCP_ECHO_PASSWORD');
  });

  it('grants each requesting part exactly its own private inbox', () => {
    for (const user of ['fetcher', 'dynamic', 'gateway'] as const) {
      expect(conf).toContain(`"${inboxPrefixFor(user)}.>"`);
    }
    expect(conf).not.toMatch(/"_INBOX\.>"/);
    expect(conf).not.toMatch(/"_INBOX_static/);
  });

  it('states max_payload and bounds JetStream', () => {
    expect(conf).toMatch(/^max_payload: 1MB$/m);
    expect(conf).toMatch(/max_memory_store: \d+MB/);
    expect(conf).toMatch(/max_file_store: \d+GB/);
  });

  it('generates passwords that nats-server reads back as the same string', () => {
    const a = generateNatsPasswords();
    const b = generateNatsPasswords();
    for (const user of NATS_USERS) {
      expect(isSafeNatsPassword(a[user])).toBe(true);
      expect(a[user]).not.toBe(b[user]);
    }
    expect(Object.keys(natsPasswordEnv(a)).sort()).toEqual(
      NATS_USERS.map(natsPasswordVariable).sort(),
    );
    // A leading digit or a dash is a parse error in nats-server's variable substitution.
    expect(isSafeNatsPassword('9abcdefghijkl')).toBe(false);
    expect(isSafeNatsPassword('abc-defghijkl')).toBe(false);
    expect(isSafeNatsPassword('short')).toBe(false);
  });
});

describe('ADVERTISE_HOST=auto', () => {
  it('picks the first non-loopback IPv4 address, then a global IPv6 one', () => {
    const lo = {
      address: '127.0.0.1',
      netmask: '255.0.0.0',
      family: 'IPv4',
      mac: '',
      internal: true,
      cidr: null,
    } as const;
    const v4 = { ...lo, address: '10.1.2.3', internal: false } as const;
    const v6 = {
      address: 'fd00::5',
      netmask: 'ffff::',
      family: 'IPv6',
      mac: '',
      internal: false,
      cidr: null,
      scopeid: 0,
    } as const;
    const linkLocal = { ...v6, address: 'fe80::1', scopeid: 2 } as const;
    expect(firstExternalAddress({ lo: [lo], eth0: [linkLocal, v6, v4] })).toBe('10.1.2.3');
    expect(firstExternalAddress({ lo: [lo], eth0: [linkLocal, v6] })).toBe('fd00::5');
    expect(firstExternalAddress({ lo: [lo] })).toBeUndefined();
  });

  it('is what advertisedHost gives for auto, and explicit values still win', () => {
    expect(advertisedHost('0.0.0.0', 'auto')).toBe(firstExternalAddress() ?? '127.0.0.1');
    expect(advertisedHost('0.0.0.0', 'static.lab')).toBe('static.lab');
    expect(advertisedHost('0.0.0.0', undefined)).toBe('127.0.0.1');
  });
});
