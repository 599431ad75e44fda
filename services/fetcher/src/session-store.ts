import type { KV } from '@nats-io/kv';
import { CookieJar } from 'tough-cookie';
import { fetcherError } from './errors';
import type { CookieOut } from './request-model';

/**
 * Sessions are named cookie jars (RFC 6265, tough-cookie). With NATS they live in a KV bucket
 * (FETCH_SESSION_BUCKET), so every fetcher instance sees the same jar: a session started on one
 * instance continues on another. Updates are compare-and-set on the key's revision; a fetch
 * records the Set-Cookie headers it received and replays them onto the latest jar, so two
 * concurrent fetches of one session both keep their cookies.
 */

/** A Set-Cookie header and the URL of the response that carried it. */
export interface SetCookieRecord {
  url: string;
  header: string;
}

export interface SessionStore {
  /** The session's jar (empty for a new session). */
  load(name: string): Promise<CookieJar>;
  /** Applies the recorded Set-Cookie headers to the latest stored jar. */
  save(name: string, records: readonly SetCookieRecord[]): Promise<void>;
  /** The session's cookies, or undefined when there is no such session. */
  list(name: string): Promise<CookieOut[] | undefined>;
  /** Removes a session; false when there was none. */
  remove(name: string): Promise<boolean>;
}

export interface SessionStoreOptions {
  /** FETCH_SESSION_MAX_BYTES: the serialized jar may not grow past it. */
  maxBytes: number;
}

const MAX_CAS_ATTEMPTS = 8;

export function newCookieJar(): CookieJar {
  // Like a browser, and like requests: IP hosts and localhost get host-only cookies.
  return new CookieJar(undefined, {
    looseMode: true,
    rejectPublicSuffixes: true,
    allowSpecialUseDomain: true,
  });
}

function applyRecords(jar: CookieJar, records: readonly SetCookieRecord[]): void {
  for (const r of records) jar.setCookieSync(r.header, r.url, { ignoreError: true });
}

function serialize(jar: CookieJar, name: string, maxBytes: number): string {
  const text = JSON.stringify(jar.serializeSync());
  if (Buffer.byteLength(text) > maxBytes) {
    throw fetcherError(
      'FETCH_SESSION_TOO_LARGE',
      `Session ${name} would hold ${Buffer.byteLength(text)} bytes of cookies (FETCH_SESSION_MAX_BYTES=${maxBytes}).`,
    );
  }
  return text;
}

function deserialize(text: string): CookieJar {
  const jar = CookieJar.deserializeSync(text);
  return jar;
}

export function cookiesOf(jar: CookieJar): CookieOut[] {
  const serialized = jar.serializeSync();
  return (serialized?.cookies ?? []).map((c) => {
    const out: CookieOut = {
      name: typeof c.key === 'string' ? c.key : '',
      value: typeof c.value === 'string' ? c.value : '',
      domain: typeof c.domain === 'string' ? c.domain : '',
      path: typeof c.path === 'string' ? c.path : '/',
      secure: c.secure === true,
      httpOnly: c.httpOnly === true,
    };
    if (typeof c.expires === 'string') out.expires = c.expires;
    if (typeof c.sameSite === 'string') out.sameSite = c.sameSite;
    return out;
  });
}

/** Sessions in this process only: standalone mode and the CLI's --local. */
export function createMemorySessionStore(opts: SessionStoreOptions): SessionStore {
  const jars = new Map<string, string>();
  return {
    load: (name) => Promise.resolve(jars.has(name) ? deserialize(jars.get(name)!) : newCookieJar()),
    save(name, records) {
      if (records.length === 0) return Promise.resolve();
      const jar = jars.has(name) ? deserialize(jars.get(name)!) : newCookieJar();
      applyRecords(jar, records);
      jars.set(name, serialize(jar, name, opts.maxBytes));
      return Promise.resolve();
    },
    list: (name) =>
      Promise.resolve(jars.has(name) ? cookiesOf(deserialize(jars.get(name)!)) : undefined),
    remove: (name) => Promise.resolve(jars.delete(name)),
  };
}

function sessionKey(name: string): string {
  // Names are [A-Za-z0-9_-]: already valid KV keys.
  return `session.${name}`;
}

/** Sessions in a NATS KV bucket, shared by every instance. */
export function createKvSessionStore(kv: KV, opts: SessionStoreOptions): SessionStore {
  const decoder = new TextDecoder();
  const read = async (name: string): Promise<{ jar: CookieJar; revision: number } | undefined> => {
    const entry = await kv.get(sessionKey(name));
    if (entry === null || entry.operation !== 'PUT') {
      return entry === null ? undefined : { jar: newCookieJar(), revision: -entry.revision };
    }
    return { jar: deserialize(decoder.decode(entry.value)), revision: entry.revision };
  };
  return {
    async load(name) {
      return (await read(name))?.jar ?? newCookieJar();
    },
    async save(name, records) {
      if (records.length === 0) return;
      for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
        const current = await read(name);
        const jar = current?.jar ?? newCookieJar();
        applyRecords(jar, records);
        const text = serialize(jar, name, opts.maxBytes);
        try {
          if (current === undefined) await kv.create(sessionKey(name), text);
          // A deleted key (negative revision here) is updated on top of its delete marker.
          else await kv.update(sessionKey(name), text, Math.abs(current.revision));
          return;
        } catch (err) {
          if (!isWrongRevision(err)) throw err;
        }
      }
      throw fetcherError(
        'FETCH_SESSION_CONFLICT',
        `Session ${name} changed under ${MAX_CAS_ATTEMPTS} attempts to save it; try again.`,
      );
    },
    async list(name) {
      const current = await read(name);
      return current === undefined || current.revision < 0 ? undefined : cookiesOf(current.jar);
    },
    async remove(name) {
      const current = await read(name);
      if (current === undefined || current.revision < 0) return false;
      await kv.delete(sessionKey(name));
      return true;
    },
  };
}

function isWrongRevision(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  const text = `${(err as Error).message ?? ''} ${typeof code === 'string' || typeof code === 'number' ? code : ''}`;
  return /wrong last sequence|key exists|10071|10164/i.test(text);
}

/**
 * The store main.ts hands out before NATS is joined: sessions are refused with
 * FETCH_SESSION_UNAVAILABLE until {@link attach} gives it the KV-backed store.
 */
export function createDeferredSessionStore(): SessionStore & { attach(store: SessionStore): void } {
  let target: SessionStore | undefined;
  const get = (): SessionStore => {
    if (target === undefined) {
      throw fetcherError(
        'FETCH_SESSION_UNAVAILABLE',
        'Sessions live in NATS KV, and NATS is not joined yet.',
      );
    }
    return target;
  };
  return {
    attach: (store) => void (target = store),
    load: (name) => Promise.resolve().then(() => get().load(name)),
    save: (name, records) => Promise.resolve().then(() => get().save(name, records)),
    list: (name) => Promise.resolve().then(() => get().list(name)),
    remove: (name) => Promise.resolve().then(() => get().remove(name)),
  };
}
