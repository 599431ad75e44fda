import { isIP, type Socket } from 'node:net';
import { buildConnector } from 'undici';
import { addressKey, type AddressPolicy } from './address-policy';
import type { ResolvedAddress, Resolve } from './dns-resolver';
import { fetcherError, isFetcherError } from './errors';

export interface GuardedConnectorOptions {
  policy: AddressPolicy;
  resolve: Resolve;
  /** TLS options for https: connections (rejectUnauthorized, ca). */
  tls?: buildConnector.BuildOptions;
  connectTimeoutMs: number;
  /**
   * Happy eyeballs (RFC 8305 §5): with several addresses, the next attempt starts this long after
   * the previous one unless that one failed sooner; the first to connect wins and the others are
   * closed. 0: one address after another, each waiting for the previous one to fail.
   */
  attemptDelayMs: number;
  /** Told about every refused destination (metrics, logs). */
  onDenied?: (hostname: string, address: string, port: number, range: string) => void;
  /**
   * Called with every address just before it is dialled. Tests install a tripwire here so that
   * a policy bug can never send a packet to a real private or public address.
   */
  beforeDial?: (address: string, port: number) => void;
}

/**
 * RFC 8305 §4: the addresses in the resolver's order, families alternating from the family of the
 * first one, so that a dead family costs one attempt delay, not one connect timeout per address.
 */
export function interleaveFamilies(addresses: readonly ResolvedAddress[]): ResolvedAddress[] {
  if (addresses.length < 2) return [...addresses];
  const first = addresses[0]!.family;
  const same = addresses.filter((a) => a.family === first);
  const other = addresses.filter((a) => a.family !== first);
  const out: ResolvedAddress[] = [];
  for (let i = 0; i < Math.max(same.length, other.length); i++) {
    if (i < same.length) out.push(same[i]!);
    if (i < other.length) out.push(other[i]!);
  }
  return out;
}

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

  // buildConnector's connect returns the socket it made (its types say void): kept to close the
  // attempts that lose a race.
  const dialSocket = dial as unknown as (
    o: buildConnector.Options,
    cb: buildConnector.Callback,
  ) => Socket | undefined;

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

    /** Dials checked addresses, racing them (RFC 8305); the first connection wins. */
    const race = (ordered: ResolvedAddress[]): void => {
      let next = 0;
      let running = 0;
      let finished = false;
      let firstError: Error | undefined;
      let timer: NodeJS.Timeout | undefined;
      const sockets = new Set<Socket>();
      const finish = (winner?: Socket): void => {
        finished = true;
        clearTimeout(timer);
        for (const s of sockets) if (s !== winner) s.destroy();
        sockets.clear();
      };
      const failed = (err: Error): void => {
        firstError ??= err;
        if (next < ordered.length) start();
        else if (running === 0) {
          finish();
          done(firstError, null);
        }
      };
      const start = (): void => {
        clearTimeout(timer);
        if (finished || next >= ordered.length) return;
        const { address } = ordered[next++]!;
        try {
          opts.beforeDial?.(address, port);
        } catch (err) {
          failed(err as Error);
          return;
        }
        running += 1;
        let socket: Socket | undefined;
        const settled = (): boolean => {
          running -= 1;
          if (socket !== undefined) sockets.delete(socket);
          return finished;
        };
        try {
          socket = dialSocket(
            {
              ...options,
              hostname: address,
              // Keep the Host-derived server name (SNI and certificate check) of the original.
              host: options.host ?? (isIP(hostname) === 0 ? hostname : undefined),
              port: String(port),
            },
            (err, connected) => {
              if (settled()) {
                connected?.destroy();
                return;
              }
              if (err !== null) {
                failed(err);
                return;
              }
              // Belt and braces: the peer must be the address that was checked.
              const peer = connected.remoteAddress;
              if (peer !== undefined && !sameAddress(peer, address)) {
                connected.destroy();
                failed(
                  fetcherError(
                    'FETCH_DESTINATION_DENIED',
                    `Connected to ${peer}, not the checked ${address}.`,
                  ),
                );
                return;
              }
              finish(connected);
              done(null, connected);
            },
          );
        } catch (err) {
          // net.connect refusing its options: this address fails like any other.
          settled();
          failed(err as Error);
          return;
        }
        if (socket !== undefined && !finished) sockets.add(socket);
        if (opts.attemptDelayMs > 0 && next < ordered.length && !finished) {
          timer = setTimeout(start, opts.attemptDelayMs);
        }
      };
      start();
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
        race(interleaveFamilies(addresses));
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
