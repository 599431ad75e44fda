import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SERVICE_NAMES } from './subjects';

/**
 * The users of the secured nats-server configuration (infra/nats/nats.conf): one per part, with
 * exactly the subjects that part uses, and `admin` for people and tools (`nats` CLI,
 * `netlab-fetch`). The configuration reads each password from a variable
 * (`password: $NATS_STATIC_PASSWORD`), so no password is ever written into it.
 */
export const NATS_USERS = [...SERVICE_NAMES, 'admin'] as const;
export type NatsUser = (typeof NATS_USERS)[number];

export function isNatsUser(name: string): name is NatsUser {
  return (NATS_USERS as readonly string[]).includes(name);
}

/** The variable nats.conf reads a user's password from: `tcp-echo` → `NATS_TCP_ECHO_PASSWORD`. */
export function natsPasswordVariable(user: NatsUser): string {
  return `NATS_${user.toUpperCase().replace(/-/g, '_')}_PASSWORD`;
}

/**
 * A fresh random password for every user: `p` and 48 hex digits (192 bits). nats-server parses a
 * variable's value as a configuration value, so a password must read as a bare string: start
 * with a letter, letters and digits only (a leading digit or a `-` is a parse error).
 */
export function generateNatsPasswords(): Readonly<Record<NatsUser, string>> {
  return Object.fromEntries(
    NATS_USERS.map((u) => [u, `p${randomBytes(24).toString('hex')}`]),
  ) as Record<NatsUser, string>;
}

/** Whether nats-server reads `password` from a variable as the same string (see above). */
export function isSafeNatsPassword(password: string): boolean {
  return /^[A-Za-z][A-Za-z0-9]{11,}$/.test(password);
}

/** The environment nats-server needs to load the secured configuration with these passwords. */
export function natsPasswordEnv(
  passwords: Readonly<Record<NatsUser, string>>,
): Record<string, string> {
  return Object.fromEntries(NATS_USERS.map((u) => [natsPasswordVariable(u), passwords[u]]));
}

/**
 * infra/nats/nats.conf, found from this package's own files (src/ or dist/, both two levels below
 * the repository's services/shared), for the supervisor and the tests.
 */
export function securedNatsConfigFile(): string {
  return join(__dirname, '..', '..', '..', 'infra', 'nats', 'nats.conf');
}
