import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { OAuthErrorBody } from '../contracts/oauth-error.js';
import { InvalidRequestError, OAuthError, ServerError, TemporarilyUnavailableError } from '../domain/errors.js';
import { setJsonBody } from './json-body.js';

/** RFC 6749 §5.1: token and error responses must not be cached. */
export const NO_STORE_HEADERS: Readonly<Record<string, string>> = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

export function setNoStore(ctx: Context): void {
  for (const [name, value] of Object.entries(NO_STORE_HEADERS)) ctx.set(name, value);
}

/** What an error is answered with: status, extra headers (WWW-Authenticate, Retry-After, …), RFC 6749 §5.2 body. */
export interface OAuthErrorAnswer {
  readonly error: OAuthError;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: OAuthErrorBody;
}

export type StoreFailureTest = (error: unknown) => boolean;

/**
 * The one place errors become responses: RFC 6749 §5.2 bodies, exact statuses, no stack traces.
 * Anything that is not an OAuth error is our fault: logged, answered as a bare server_error. Used by
 * the exact routes (src/http/app.ts) and, through oauthErrorRenderer, by the pages.
 */
export function oauthErrorAnswer(thrown: unknown, logger: Logger, path: string, isStoreFailure: StoreFailureTest): OAuthErrorAnswer {
  const error = toOAuthError(thrown, isStoreFailure);
  if (error instanceof ServerError) logger.error({ err: thrown, path }, 'unhandled error');
  const body: OAuthErrorBody = { error: error.error };
  if (error.description) body.error_description = asciiDescription(error.description);
  return { error, status: error.status, headers: error.headers, body };
}

/** The same answers for the Koa app (the pages): first middleware after request ids and metrics. */
export function oauthErrorRenderer(logger: Logger, isStoreFailure: StoreFailureTest = () => false) {
  return async function renderOAuthErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (thrown) {
      const answer = oauthErrorAnswer(thrown, logger, ctx.path, isStoreFailure);
      ctx.state.oauthError = answer.error.error;
      ctx.status = answer.status;
      for (const [name, value] of Object.entries(answer.headers)) ctx.set(name, value);
      setNoStore(ctx);
      setJsonBody(ctx, answer.body);
    }
  };
}

function toOAuthError(thrown: unknown, isStoreFailure: StoreFailureTest): OAuthError {
  if (thrown instanceof OAuthError) return thrown;
  if (thrown instanceof z.ZodError) return fromZodError(thrown);
  // A store failure that escaped the repositories (issue 10: any store fault is a 503, never a 500).
  if (isStoreFailure(thrown)) return new TemporarilyUnavailableError('the store is unavailable; retry shortly', { cause: thrown });
  const status = (thrown as { status?: unknown; expose?: unknown }).status;
  if (typeof status === 'number' && status >= 400 && status < 500 && (thrown as { expose?: unknown }).expose) {
    return new InvalidRequestError((thrown as Error).message, status);
  }
  return new ServerError('internal error');
}

/** A contract violation → invalid_request naming the parameter (the first issue is enough). */
function fromZodError(error: z.ZodError): InvalidRequestError {
  const issue = error.issues[0];
  if (!issue) return new InvalidRequestError('invalid request');
  const parameter = issue.path[0];
  const named = typeof parameter === 'string' && !issue.message.includes(parameter);
  return new InvalidRequestError(named ? `${parameter}: ${issue.message}` : issue.message);
}

/** RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E. */
function asciiDescription(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?').slice(0, 300);
}
