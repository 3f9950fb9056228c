import type { IncomingMessage } from 'node:http';
import getRawBody from 'raw-body';
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
  let text: string;
  try {
    text = await getRawBody(req, { limit, length: contentLength(req), encoding: 'utf8' });
  } catch (error) {
    throw bodyReadError(error, limit);
  }
  const params: FormParams = new Map();
  for (const [name, value] of new URLSearchParams(text)) {
    if (value === '') continue;
    const values = params.get(name);
    if (values) values.push(value);
    else params.set(name, [value]);
  }
  return params;
}

/** Node's parser has already refused a Content-Length that is not digits (HPE_INVALID_CONTENT_LENGTH). */
function contentLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  return header === undefined || header === '' ? undefined : Number(header);
}

function bodyReadError(error: unknown, limit: number): InvalidRequestError {
  const type = (error as { type?: string }).type;
  if (type === 'entity.too.large') return new InvalidRequestError(`request body exceeds ${limit} bytes`, 413);
  if (type === 'request.size.invalid') return new InvalidRequestError('request body length does not match Content-Length');
  return new InvalidRequestError('request body could not be read');
}
