import { isIP } from 'node:net';
import { buildConnector } from 'undici';
import { addressKey, type AddressPolicy } from './address-policy';
import type { Resolve } from './dns-resolver';
import { fetcherError, isFetcherError } from './errors';

export interface GuardedConnectorOptions {
  policy: AddressPolicy;
  resolve: Resolve;
  /** TLS options for https: connections (rejectUnauthorized, ca). */
  tls?: buildConnector.BuildOptions;
  connectTimeoutMs: number;
  /** Told about every refused destination (metrics, logs). */
  onDenied?: (hostname: string, address: string, port: number, range: string) => void;
  /**
   * Called with every address just before it is dialled. Tests install a tripwire here so that
   * a policy bug can never send a packet to a real private or public address.
   */
  beforeDial?: (address: string, port: number) => void;
}

// Errors after which the next resolved address is worth a try (as happy eyeballs would).
const TRY_NEXT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * An undici connector that resolves the host itself, checks every resolved address against the
 * policy, and dials the checked address (never the name), so the address checked is the address
 * connected to. A name with any denied address is refused as a whole: a mixed answer is how
 * rebinding attacks look. For TLS the original host name is still the SNI and the name the
 * certificate is verified against.
 */
export function createGuardedConnector(opts: GuardedConnectorOptions): buildConnector.connector {
  const dial = buildConnector({
    ...opts.tls,
    timeout: opts.connectTimeoutMs,
    allowH2: false,
  });

  return (options, callback) => {
    const hostname = stripBrackets(options.hostname);
    const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80);
    let answered = false;
    const done: buildConnector.Callback = (...args) => {
      if (answered) {
        // A socket that arrives after the caller gave up must not leak.
        if (args[1] !== null) args[1].destroy();
        return;
      }
      answered = true;
      callback(...args);
    };

    opts
      .resolve(hostname)
      .then((addresses) => {
        for (const { address } of addresses) {
          const verdict = opts.policy.check(hostname, address, port);
          if (!verdict.allowed) {
            opts.onDenied?.(hostname, address, port, verdict.range);
            const via =
              isIP(hostname) === 0 ? `${hostname} resolves to ${address}, which` : address;
            throw fetcherError(
              'FETCH_DESTINATION_DENIED',
              `${via} is ${verdict.range} and not in FETCH_ALLOW (port ${port}).`,
            );
          }
        }
        if (addresses.length === 0) {
          throw fetcherError('FETCH_DNS_FAILED', `${hostname} resolved to no address.`);
        }
        const attempt = (i: number): void => {
          const { address } = addresses[i]!;
          try {
            opts.beforeDial?.(address, port);
          } catch (err) {
            done(err as Error, null);
            return;
          }
          dial(
            {
              ...options,
              hostname: address,
              // Keep the Host-derived server name (SNI and certificate check) of the original.
              host: options.host ?? (isIP(hostname) === 0 ? hostname : undefined),
              port: String(port),
            },
            (err, socket) => {
              if (err !== null) {
                const code = (err as NodeJS.ErrnoException).code ?? '';
                if (TRY_NEXT.has(code) && i + 1 < addresses.length) {
                  attempt(i + 1);
                  return;
                }
                done(err, null);
                return;
              }
              // Belt and braces: the peer must be the address that was checked.
              const peer = socket.remoteAddress;
              if (peer !== undefined && !sameAddress(peer, address)) {
                socket.destroy();
                done(
                  fetcherError(
                    'FETCH_DESTINATION_DENIED',
                    `Connected to ${peer}, not the checked ${address}.`,
                  ),
                  null,
                );
                return;
              }
              done(null, socket);
            },
          );
        };
        attempt(0);
      })
      .catch((err: unknown) => {
        done(isFetcherError(err) ? err : (err as Error), null);
      });
  };
}

/** Equal once IPv4-mapped IPv6 is unwrapped (`::ffff:7f00:1` is 127.0.0.1 on the socket). */
function sameAddress(a: string, b: string): boolean {
  const key = addressKey(a);
  return key !== undefined && key === addressKey(b);
}
