import type { Context } from 'koa';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * Answers with `value` as JSON (RFC 6749 §5.1, §5.2: application/json, UTF-8). Serialised here, with
 * the type set as a header, so Koa sends the string as it is instead of looking the media type up
 * and serialising on its own for every response (every poll is one).
 */
export function setJsonBody(ctx: Context, value: unknown): void {
  ctx.set('Content-Type', JSON_CONTENT_TYPE);
  ctx.body = JSON.stringify(value);
}
