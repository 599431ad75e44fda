import type { Instance, UpstreamRegistry } from './upstream-registry';

/**
 * The first moments of a gateway that starts while traffic is already coming (a restart under
 * load): it listens at once, but knows its instances only after the first discovery round and
 * their first probes. Until then (at most STARTUP_WAIT) readiness says "not ready", and a request
 * whose service has no healthy instance yet waits for one instead of getting 503 at once: the
 * restart costs those requests a few hundred milliseconds, not an error each.
 *
 * The gate opens when discovery has reported once (main.ts: the first `$SRV.INFO` sweep, or at
 * once without NATS) and every instance known then has had its first probe; or when the wait ends.
 * After that it never closes again: the gateway's readiness does not depend on upstreams
 * (DECISIONS.md #34).
 */
export interface StartupGate {
  /** Starts the wait (main.ts, before listening); without it the gate is open. */
  begin(): void;
  /** Discovery has reported once; the gate opens as soon as every known instance was probed. */
  sourcesKnown(): void;
  /** True once the gate opened (or was never begun). */
  isOpen(): boolean;
  /**
   * While the gate is shut: keeps `retry` until `service` has a healthy instance or the gate
   * opens, and returns true. Returns false when the gate is open (nothing is kept).
   */
  hold(service: string, retry: () => void): boolean;
  close(): void;
}

export function createStartupGate(upstreams: UpstreamRegistry, waitMs: number): StartupGate {
  let shut = false;
  let discovered = false;
  let timer: NodeJS.Timeout | undefined;
  const waiting = new Map<string, (() => void)[]>();

  const release = (list: (() => void)[] | undefined): void => {
    for (const retry of list ?? []) retry();
  };

  const open = (): void => {
    if (!shut) return;
    shut = false;
    clearTimeout(timer);
    const all = [...waiting.values()];
    waiting.clear();
    for (const list of all) release(list);
  };

  const settled = (): boolean => upstreams.list().every((i) => i.state !== 'unknown');

  upstreams.onStateChange((inst: Instance) => {
    if (!shut) return;
    if (inst.state === 'healthy') {
      const list = waiting.get(inst.service);
      waiting.delete(inst.service);
      release(list);
    }
    if (discovered && settled()) open();
  });

  return {
    begin() {
      if (shut || timer !== undefined) return;
      shut = true;
      timer = setTimeout(open, waitMs);
      timer.unref();
    },
    sourcesKnown() {
      discovered = true;
      if (settled()) open();
    },
    isOpen: () => !shut,
    hold(service, retry) {
      if (!shut) return false;
      let list = waiting.get(service);
      if (list === undefined) waiting.set(service, (list = []));
      list.push(retry);
      return true;
    },
    close() {
      open();
    },
  };
}
