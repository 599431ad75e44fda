import { dynamicError } from './errors';

/** Network and server-state errors of mysql2 that mean "the database is not reachable now". */
const MYSQL_UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'POOL_ACQUIRE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_NORMAL_SHUTDOWN',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_QUERY_INTERRUPTED',
  'ER_CLIENT_INTERACTION_TIMEOUT',
]);
const MYSQL_UNAVAILABLE_MESSAGES = ['Queue limit reached.', 'Pool is closed.'];

/**
 * SQLite primary result codes that are about the file or its locks rather than the query:
 * BUSY 5, LOCKED 6, READONLY 8, IOERR 10, CORRUPT 11, FULL 13, CANTOPEN 14, NOTADB 26.
 * https://www.sqlite.org/rescode.html
 */
const SQLITE_UNAVAILABLE = new Set([5, 6, 8, 10, 11, 13, 14, 26]);

interface ErrorFields {
  code?: unknown;
  errno?: unknown;
  errcode?: unknown;
  fatal?: unknown;
  message?: unknown;
}

function fields(err: unknown): ErrorFields {
  return typeof err === 'object' && err !== null ? err : {};
}

export function isDbUnavailable(err: unknown): boolean {
  const e = fields(err);
  if (typeof e.code === 'string' && MYSQL_UNAVAILABLE.has(e.code)) return true;
  if (typeof e.message === 'string' && MYSQL_UNAVAILABLE_MESSAGES.includes(e.message)) return true;
  if (e.fatal === true) return true;
  if (e.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number') {
    return SQLITE_UNAVAILABLE.has(e.errcode & 0xff);
  }
  // node:sqlite throws ERR_INVALID_STATE once the database is closed (during shutdown).
  return e.code === 'ERR_INVALID_STATE';
}

/** A UNIQUE constraint violation: SQLITE_CONSTRAINT_UNIQUE (2067) or MySQL ER_DUP_ENTRY. */
export function isUniqueViolation(err: unknown): boolean {
  const e = fields(err);
  if (e.code === 'ER_DUP_ENTRY') return true;
  return e.code === 'ERR_SQLITE_ERROR' && e.errcode === 2067;
}

/** Turns a connectivity failure into DB_UNAVAILABLE (503, retryable); anything else passes. */
export function toDbError(err: unknown): unknown {
  if (!isDbUnavailable(err)) return err;
  const e = fields(err);
  const why =
    typeof e.code === 'string' ? e.code : typeof e.message === 'string' ? e.message : 'unknown';
  return dynamicError(
    'DB_UNAVAILABLE',
    `The database is unavailable (${why}); try again shortly.`,
    {
      cause: err,
      headers: { 'retry-after': '1' },
    },
  );
}
