import { hash } from 'node:crypto';
import type { Request, Response } from 'express';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The strong validator Express's `etag` setting makes (`"<length hex>-<sha1 base64, 27 chars>"`),
 * from the body as a string: `crypto.hash` encodes and digests in one native call, without the
 * Buffer and Hash objects of `res.json`.
 */
export function strongEtag(body: string, length = Buffer.byteLength(body)): string {
  if (length === 0) return '"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"';
  return `"${length.toString(16)}-${hash('sha1', body, 'base64').slice(0, 27)}"`;
}

/**
 * `res.json(value)` for the reads of the API, on what Express does for it: a strong ETag on 2xx
 * answers to GET and HEAD, 304 when the request's validators match (Express's `req.fresh`, so
 * `Cache-Control: no-cache` in the request still gets the full answer), no body for HEAD.
 */
export function sendJson(req: Request, res: Response, value: unknown, status = 200): void {
  const body = JSON.stringify(value);
  const length = Buffer.byteLength(body);
  res.statusCode = status;
  if (status >= 200 && status < 300 && (req.method === 'GET' || req.method === 'HEAD')) {
    res.setHeader('etag', strongEtag(body, length));
    if (req.fresh) {
      res.statusCode = 304;
      res.end();
      return;
    }
  }
  res.setHeader('content-type', JSON_TYPE);
  res.setHeader('content-length', length);
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}
