import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { fetcherError } from './errors';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * Every address a name resolves to, in the order to try them (getaddrinfo's, RFC 6724, from the
 * system resolver; IPv6 then IPv4 from DNS servers asked directly, as RFC 6724's default policy
 * prefers); an IP literal resolves to itself. The connector races them (RFC 8305).
 */
export type Resolve = (hostname: string) => Promise<ResolvedAddress[]>;

export interface ResolverOptions {
  /**
   * DNS servers (`127.0.0.1:5353`, `[::1]:53`) asked directly instead of the system resolver
   * (getaddrinfo, which also reads /etc/hosts). Unset: the system resolver.
   */
  servers?: readonly string[] | undefined;
  timeoutMs: number;
}

const NO_ANSWER = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN']);

/**
 * The resolver the guarded connector dials from. Resolution and the check of the answer happen
 * once per connection, and the address checked is the address dialled: a DNS answer that changes
 * between two lookups cannot slip past (DNS rebinding).
 */
export function createResolver(opts: ResolverOptions): Resolve {
  const withTimeout = async <T>(hostname: string, p: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            fetcherError(
              'FETCH_DNS_FAILED',
              `Resolving ${hostname} took longer than ${opts.timeoutMs} ms.`,
            ),
          ),
        opts.timeoutMs,
      );
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  const failed = (hostname: string, err: unknown) =>
    fetcherError(
      'FETCH_DNS_FAILED',
      `${hostname} could not be resolved (${(err as NodeJS.ErrnoException).code ?? String(err)}).`,
      { cause: err },
    );

  if (opts.servers !== undefined && opts.servers.length > 0) {
    const resolver = new dns.Resolver({ timeout: opts.timeoutMs, tries: 1 });
    resolver.setServers([...opts.servers]);
    return async (hostname) => {
      const family = isIP(hostname);
      if (family !== 0) return [{ address: hostname, family: family as 4 | 6 }];
      const [v4, v6] = await withTimeout(
        hostname,
        Promise.allSettled([resolver.resolve4(hostname), resolver.resolve6(hostname)]),
      );
      const out: ResolvedAddress[] = [];
      if (v6.status === 'fulfilled') for (const a of v6.value) out.push({ address: a, family: 6 });
      if (v4.status === 'fulfilled') for (const a of v4.value) out.push({ address: a, family: 4 });
      if (out.length > 0) return out;
      const errors = [v4, v6].flatMap((r) =>
        r.status === 'rejected' ? [r.reason as unknown] : [],
      );
      const hard = errors.find((e) => !NO_ANSWER.has((e as NodeJS.ErrnoException).code ?? ''));
      throw failed(hostname, hard ?? errors[0]);
    };
  }

  return async (hostname) => {
    const family = isIP(hostname);
    if (family !== 0) return [{ address: hostname, family: family as 4 | 6 }];
    try {
      const answers = await withTimeout(
        hostname,
        dns.lookup(hostname, { all: true, order: 'verbatim' }),
      );
      return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
    } catch (err) {
      if ((err as { code?: string }).code === 'FETCH_DNS_FAILED') throw err;
      throw failed(hostname, err);
    }
  };
}
