import { z } from 'zod';
import { fetcherError } from './errors';

/**
 * The fetch envelope: one schema for HTTP (`POST /fetch`, `/fetch/stream`, `/downloads`), NATS
 * (`netlab.fetcher.fetch`) and the CLI. It follows Python `requests` keyword by keyword
 * (`requests.request(method, url, params=, headers=, json=, data=, files=, auth=, cookies=,
 * allow_redirects=, timeout=, proxies=, verify=)`), in camelCase JSON; durations are seconds, as
 * in `requests`. README.md ("The envelope") documents every field.
 */

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[^\r\n\0]*$/;
// Hop-by-hop and framing headers belong to the fetcher's own connection (RFC 9110 §7.6.1).
const RESERVED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'content-length',
  'proxy-authorization',
]);

const scalar = z.union([z.string(), z.number(), z.boolean()]).transform(String);
/** `{ "a": "1", "b": ["2", "3"], "c": null }` (null drops the key, as `None` does) or pairs. */
const multiMap = z.union([
  z.record(z.string(), z.union([scalar, z.array(scalar), z.null()])),
  z.array(z.tuple([z.string(), scalar])),
]);

const headerName = z.string().regex(TOKEN, 'a header name must be an HTTP token');
const headerValue = z.string().regex(HEADER_VALUE, 'a header value must not contain CR, LF or NUL');
const headers = z
  .union([z.record(headerName, headerValue), z.array(z.tuple([headerName, headerValue]))])
  .superRefine((h, ctx) => {
    const names = Array.isArray(h) ? h.map(([k]) => k) : Object.keys(h);
    for (const name of names) {
      if (RESERVED_HEADERS.has(name.toLowerCase())) {
        ctx.addIssue({
          code: 'custom',
          message: `the header ${name} is set by the fetcher itself`,
        });
      }
    }
  });

const seconds = z.number().positive().max(86_400);

const fileSpec = z
  .object({
    /** A file under FETCH_FILES_DIR, streamed from disk. */
    path: z.string().min(1).optional(),
    /** Inline content, base64. */
    content: z.base64().optional(),
    filename: z.string().max(255).optional(),
    contentType: headerValue.optional(),
  })
  .strict()
  .refine((f) => (f.path === undefined) !== (f.content === undefined), {
    message: 'a file needs exactly one of path and content',
  });

const auth = z.union([
  z.object({ type: z.literal('basic'), username: z.string(), password: z.string() }).strict(),
  z.object({ type: z.literal('bearer'), token: headerValue.min(1) }).strict(),
  // requests' auth=('user', 'pass')
  z.tuple([z.string(), z.string()]).transform(([username, password]) => ({
    type: 'basic' as const,
    username,
    password,
  })),
]);

const retries = z.union([
  z.number().int().min(0).max(100),
  z
    .object({
      /** Retries after the first attempt. */
      total: z.number().int().min(0).max(100),
      /** Backoff before retry n is backoffFactor × 2^(n−1) seconds, jittered ±50 %. */
      backoffFactor: z.number().min(0).max(60).optional(),
      /** Statuses that are retried (default 429, 502, 503, 504). */
      statuses: z.array(z.number().int().min(100).max(599)).optional(),
      /** Retry POST and PATCH too (not idempotent: the upstream may see the request twice). */
      allowNonIdempotent: z.boolean().optional(),
      /** Wait what Retry-After says on 413, 429 and 503 (default true). */
      respectRetryAfter: z.boolean().optional(),
    })
    .strict(),
]);

export const fetchRequestSchema = z
  .object({
    method: z
      .string()
      .regex(TOKEN, 'a method must be an HTTP token')
      .transform((m) => m.toUpperCase())
      .refine((m) => m !== 'CONNECT', 'CONNECT is not fetched')
      .default('GET'),
    url: z.string().min(1).max(16_384),
    params: multiMap.optional(),
    headers: headers.optional(),
    /** A JSON body (Content-Type: application/json). */
    json: z.unknown().optional(),
    /** A form body (application/x-www-form-urlencoded), or a raw string body sent as is. */
    data: z.union([z.string(), multiMap]).optional(),
    /** A raw binary body, base64. */
    bodyBase64: z.base64().optional(),
    /** multipart/form-data parts; `data` fields go in the same body, as in `requests`. */
    files: z
      .union([
        z.record(z.string(), fileSpec),
        z.array(z.object({ field: z.string() }).and(fileSpec)),
      ])
      .optional(),
    auth: auth.optional(),
    /** Cookies sent with this request (to its first host only), on top of the session's. */
    cookies: z.record(z.string().regex(TOKEN), z.string().regex(/^[^;\r\n\0]*$/)).optional(),
    /** A named cookie jar kept across requests and shared by every fetcher instance. */
    session: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'a session name is 1-64 letters, digits, _ or -')
      .optional(),
    allowRedirects: z.boolean().default(true),
    maxRedirects: z.number().int().min(0).max(1000).optional(),
    /** Seconds: one number is connect and read, as in `requests`; or each phase. */
    timeout: z
      .union([
        seconds,
        z
          .object({
            connect: seconds.optional(),
            /** Until the response headers arrive. */
            headers: seconds.optional(),
            /** Longest pause between two chunks of the body. */
            read: seconds.optional(),
            /** The whole fetch: queueing, redirects, retries and the body. */
            total: seconds.optional(),
          })
          .strict(),
      ])
      .optional(),
    /** `http://[user:pass@]host:port`, or per scheme as in `requests`' proxies. */
    proxy: z
      .union([
        z.string(),
        z.object({ http: z.string().optional(), https: z.string().optional() }).strict(),
      ])
      .optional(),
    tls: z
      .object({
        /** False accepts any certificate (requests' verify=False). */
        verify: z.boolean().default(true),
        /** Extra trusted CA certificates, PEM, added to the system's. */
        ca: z.string().max(1_048_576).optional(),
      })
      .strict()
      .optional(),
    retries: retries.optional(),
    response: z
      .object({
        /** How the body comes back: auto (JSON for JSON, text for text, base64 otherwise). */
        as: z.enum(['auto', 'text', 'json', 'base64', 'none']).default('auto'),
        /** Lower the size cap for this request (bytes, after decompression). */
        maxBytes: z.number().int().positive().optional(),
        /** Undo Content-Encoding (gzip, deflate, br, zstd); default true, false for streams. */
        decode: z.boolean().optional(),
        /** Force the text charset, as setting r.encoding does. */
        encoding: z.string().max(64).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const bodies = [r.json !== undefined && r.json !== null, r.bodyBase64 !== undefined].filter(
      Boolean,
    ).length;
    if (bodies > 1 || (bodies === 1 && (r.data !== undefined || r.files !== undefined))) {
      ctx.addIssue({
        code: 'custom',
        message: 'give one body: json, bodyBase64, or data and/or files',
      });
    }
    if (r.files !== undefined && typeof r.data === 'string') {
      ctx.addIssue({ code: 'custom', message: 'with files, data must be fields, not a string' });
    }
  });

/** The envelope as a caller writes it. */
export type FetchRequestInput = z.input<typeof fetchRequestSchema>;
/** The envelope after validation and defaults. */
export type FetchRequest = z.output<typeof fetchRequestSchema>;
export type FileSpec = z.output<typeof fileSpec> & { field?: string };

/**
 * `{"url": "…"}` alone, the commonest envelope, without a trip through zod: the same output as
 * the schema gives it (test/request-model.test.ts holds the two together), or undefined.
 */
function plainGet(input: unknown): FetchRequest | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  let keys = 0;
  for (const key in input) {
    if (key !== 'url' || ++keys > 1) return undefined;
  }
  const url = (input as { url?: unknown }).url;
  if (typeof url !== 'string' || url.length === 0 || url.length > 16_384) return undefined;
  return { method: 'GET', url, allowRedirects: true };
}

/**
 * The JSON of an envelope as received (an HTTP body, a NATS message), not yet validated:
 * FETCH_INVALID_REQUEST when it is not JSON.
 */
export function parseEnvelopeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw fetcherError(
      'FETCH_INVALID_REQUEST',
      `The envelope is not JSON: ${(err as Error).message}`,
    );
  }
}

/** Validates an envelope; every problem is listed in one FETCH_INVALID_REQUEST. */
export function parseFetchRequest(input: unknown): FetchRequest {
  const plain = plainGet(input);
  if (plain !== undefined) return plain;
  const result = fetchRequestSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (i) => `${i.path.length === 0 ? '(envelope)' : i.path.join('.')}: ${i.message}`,
  );
  throw fetcherError('FETCH_INVALID_REQUEST', problems.join('; '));
}

/** One hop of the redirect chain, as `requests`' r.history entries. */
export interface HistoryEntry {
  status: number;
  reason: string;
  url: string;
  headers: Record<string, string | string[]>;
}

export interface CookieOut {
  name: string;
  value: string;
  domain: string;
  path: string;
  expires?: string;
  secure: boolean;
  httpOnly: boolean;
  sameSite?: string;
}

/** The body of a response in the envelope. */
export type BodyOut =
  | { as: 'json'; json: unknown }
  | { as: 'text'; text: string; charset: string }
  | { as: 'base64'; base64: string }
  | { as: 'none' };

/** What every answer says of the final response: the reply's fields and a stream's alike. */
export interface ResponseHead {
  status: number;
  reason: string;
  /** The final URL, after redirects. */
  url: string;
  method: string;
  history: HistoryEntry[];
  headers: Record<string, string | string[]>;
  /** Cookies set by the final response (r.cookies). */
  cookies: Record<string, string>;
  /** Milliseconds from sending the (final) request to its response headers (r.elapsed). */
  elapsedMs: number;
  /** Retries made (attempts after the first, over every hop). */
  retries: number;
}

/** The reply: `requests`' Response as JSON. */
export interface FetchResponse extends ResponseHead {
  /** status < 400, as r.ok. */
  ok: boolean;
  /** Milliseconds for the whole fetch, retries and body included. */
  totalMs: number;
  body: BodyOut;
  sizes: {
    /** Body bytes as received (compressed). */
    wire: number;
    /** Body bytes after Content-Encoding was undone. */
    decoded: number;
  };
  /** The session the cookies were kept in, if any. */
  session?: string;
}
