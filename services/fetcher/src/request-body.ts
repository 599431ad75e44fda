import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { fetcherError } from './errors';
import { formEncode, toPairs, type Pair } from './form-encoding';
import type { FetchRequest, FileSpec } from './request-model';

/**
 * A request body that can be produced again for every attempt (retries) and every 307/308
 * redirect: inline bodies are kept as bytes, files are reopened and streamed from disk each time.
 */
export interface PreparedBody {
  contentType: string | undefined;
  length: number;
  make(): string | Buffer | Readable;
}

interface Part {
  head: Buffer;
  content: Buffer | { path: string; size: number };
}

// RFC 7578 §4.2 leaves escaping to HTML5's form submission: ", CR and LF percent-encoded, as
// urllib3 (under requests) does.
function quoteParam(value: string): string {
  return value.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Resolves a file to upload inside `filesDir`, refusing anything that escapes it. */
async function resolveUpload(
  filesDir: string | undefined,
  path: string,
): Promise<{ path: string; size: number }> {
  if (filesDir === undefined) {
    throw fetcherError(
      'FETCH_FILE_DENIED',
      'Uploads from a path are off: FETCH_FILES_DIR is not set (send the content inline, base64).',
    );
  }
  const root = await realpath(filesDir);
  const wanted = isAbsolute(path) ? path : join(root, path);
  let real: string;
  try {
    real = await realpath(wanted);
  } catch {
    throw fetcherError('FETCH_FILE_NOT_FOUND', `${path} does not exist under FETCH_FILES_DIR.`);
  }
  // The root itself ends with a separator when it is `/`.
  if (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep)) {
    throw fetcherError('FETCH_FILE_DENIED', `${path} is outside FETCH_FILES_DIR.`);
  }
  const info = await stat(real);
  if (!info.isFile()) throw fetcherError('FETCH_FILE_DENIED', `${path} is not a regular file.`);
  return { path: real, size: info.size };
}

function fileList(files: NonNullable<FetchRequest['files']>): (FileSpec & { field: string })[] {
  if (Array.isArray(files)) return files;
  return Object.entries(files).map(([field, spec]) => ({ ...spec, field }));
}

async function prepareMultipart(
  fields: Pair[],
  files: (FileSpec & { field: string })[],
  filesDir: string | undefined,
): Promise<PreparedBody> {
  const boundary = randomBytes(16).toString('hex');
  const parts: Part[] = [];
  for (const [name, value] of fields) {
    parts.push({
      head: Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${quoteParam(name)}"\r\n\r\n`,
      ),
      content: Buffer.from(value),
    });
  }
  for (const f of files) {
    const content =
      f.path !== undefined
        ? await resolveUpload(filesDir, f.path)
        : Buffer.from(f.content ?? '', 'base64');
    const filename = f.filename ?? (f.path !== undefined ? basename(f.path) : f.field);
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${quoteParam(f.field)}"; filename="${quoteParam(filename)}"\r\n`;
    if (f.contentType !== undefined) head += `Content-Type: ${f.contentType}\r\n`;
    parts.push({ head: Buffer.from(`${head}\r\n`), content });
  }
  const crlf = Buffer.from('\r\n');
  const tail = Buffer.from(`--${boundary}--\r\n`);
  let length = tail.length;
  for (const p of parts) {
    length += p.head.length + crlf.length;
    length += Buffer.isBuffer(p.content) ? p.content.length : p.content.size;
  }

  async function* generate(): AsyncGenerator<Buffer> {
    for (const p of parts) {
      yield p.head;
      if (Buffer.isBuffer(p.content)) {
        yield p.content;
      } else if (p.content.size > 0) {
        // Exactly the size announced in Content-Length; O_NOFOLLOW so that the checked path
        // cannot be swapped for a symlink between the check and the open.
        const handle = await open(p.content.path, constants.O_RDONLY | constants.O_NOFOLLOW);
        const stream = handle.createReadStream({
          start: 0,
          end: p.content.size - 1,
          highWaterMark: 64 * 1024,
        });
        for await (const chunk of stream) yield chunk as Buffer;
      }
      yield crlf;
    }
    yield tail;
  }

  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length,
    make: () => Readable.from(generate(), { objectMode: false }),
  };
}

/** The body of an envelope, or undefined when it has none. */
export async function prepareBody(
  req: FetchRequest,
  filesDir: string | undefined,
): Promise<PreparedBody | undefined> {
  if (req.files !== undefined) {
    const fields = typeof req.data === 'string' ? [] : toPairs(req.data);
    return prepareMultipart(fields, fileList(req.files), filesDir);
  }
  let bytes: Buffer;
  let contentType: string | undefined;
  if (req.json !== undefined && req.json !== null) {
    bytes = Buffer.from(JSON.stringify(req.json));
    contentType = 'application/json';
  } else if (typeof req.data === 'string') {
    // requests sends a string body as is, without a Content-Type.
    bytes = Buffer.from(req.data);
  } else if (req.data !== undefined && toPairs(req.data).length > 0) {
    bytes = Buffer.from(formEncode(toPairs(req.data)));
    contentType = 'application/x-www-form-urlencoded';
  } else if (req.bodyBase64 !== undefined) {
    bytes = Buffer.from(req.bodyBase64, 'base64');
  } else {
    return undefined;
  }
  return { contentType, length: bytes.length, make: () => bytes };
}
