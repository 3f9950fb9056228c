import type { IncomingMessage } from 'node:http';
import { InvalidRequestError } from '../domain/errors.js';

/** OAuth requests are a few hundred bytes; anything larger is refused before it is parsed. */
export const FORM_BODY_LIMIT_BYTES = 4 * 1024;

/** `application/x-www-form-urlencoded`, any case, optionally followed by parameters (RFC 9110 §8.3.1). */
const FORM_CONTENT_TYPE = /^\s*application\/x-www-form-urlencoded\s*(;.*)?$/i;
const CHARSET_PARAMETER = /;\s*charset\s*=\s*("?[^";\s]+"?)/i;

/** A form body as a map of parameter name → every value it was sent with, in order. */
export type FormParams = Map<string, string[]>;

/**
 * Reads an application/x-www-form-urlencoded body (RFC 6749 §3.2, Appendix B: UTF-8). Parsed with
 * WHATWG URLSearchParams, so `a[b]=c` stays the literal (unknown, ignored) parameter `a[b]` instead
 * of qs-style nesting. RFC 6749 §3.1: parameters sent without a value are treated as omitted.
 */
export async function readForm(req: IncomingMessage, limit = FORM_BODY_LIMIT_BYTES): Promise<FormParams> {
  const contentType = FORM_CONTENT_TYPE.exec(req.headers['content-type'] ?? '');
  if (!contentType) throw new InvalidRequestError('the request body must be application/x-www-form-urlencoded');
  const charset = CHARSET_PARAMETER.exec(contentType[1] ?? '')?.[1]?.replace(/"/g, '');
  if (charset && !['utf-8', 'utf8', 'us-ascii'].includes(charset.toLowerCase())) {
    throw new InvalidRequestError(`unsupported charset ${charset}; use UTF-8`);
  }
  const text = await readBody(req, limit);
  const params: FormParams = new Map();
  for (const [name, value] of new URLSearchParams(text)) {
    if (value === '') continue;
    const values = params.get(name);
    if (values) values.push(value);
    else params.set(name, [value]);
  }
  return params;
}

/**
 * The body as UTF-8 text, at most `limit` bytes: a declared Content-Length over it is refused before a
 * byte is read (413), a chunked body as soon as it passes it. Node's parser has already refused a
 * Content-Length that is not digits, and ends the body at exactly that many bytes; a body that stops
 * short (the client went away) is an error, never a partial form. Hand-written rather than raw-body:
 * on the token endpoint's hot path raw-body's per-request decoder and listeners were a measured cost
 * (README, "Benchmark"), and this is all of it that a form needs.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const header = req.headers['content-length'];
  const declared = header === undefined || header === '' ? undefined : Number(header);
  if (declared !== undefined && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let received = 0;
    const settle = (error: InvalidRequestError | undefined) => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (error) {
        chunks = [];
        reject(error);
        return;
      }
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, received).toString('utf8'));
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) settle(tooLarge(limit));
      else chunks.push(chunk);
    };
    const onEnd = () => settle(undefined);
    const onError = () => settle(new InvalidRequestError('request body could not be read'));
    // 'close' before 'end': the connection ended in the middle of the body.
    const onClose = () => settle(new InvalidRequestError('request body could not be read'));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

function tooLarge(limit: number): InvalidRequestError {
  return new InvalidRequestError(`request body exceeds ${limit} bytes`, 413);
}
