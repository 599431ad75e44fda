import type { IncomingMessage, ServerResponse } from 'node:http';
import { toProblem, PROBLEM_CONTENT_TYPE } from '@netlab/shared';
import { prefersJson } from './content-negotiation';

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** Headers that keep an error or listing page inert even if a browser renders it. */
export const INERT_PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
  'x-content-type-options': 'nosniff',
} as const;

/**
 * Answers with an error: a small HTML page by default, `application/problem+json` when the
 * client's Accept ranks JSON above HTML. The path appears only escaped (HTML) or as a JSON string
 * (`instance`). Headers set earlier with `res.setHeader` (Allow, Content-Range) are kept.
 */
export function sendErrorPage(
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
  path: string,
): number {
  const problem = toProblem(err, path);
  let body: string;
  let type: string;
  if (prefersJson(req.headers.accept)) {
    body = JSON.stringify(problem);
    type = PROBLEM_CONTENT_TYPE;
  } else {
    const heading = `${problem.status} ${escapeHtml(problem.title)}`;
    body =
      `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${heading}</title>` +
      `</head>\n<body><h1>${heading}</h1><p>${escapeHtml(problem.detail ?? '')}</p>` +
      `<p><code>${escapeHtml(path)}</code> · <code>${problem.code}</code></p></body></html>\n`;
    type = 'text/html; charset=utf-8';
  }
  res.writeHead(problem.status, {
    ...INERT_PAGE_HEADERS,
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
  return problem.status;
}
