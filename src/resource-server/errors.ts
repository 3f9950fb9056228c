/**
 * The errors a protected resource answers (RFC 6750 §3.1). Each carries the HTTP status and the
 * `error` code that go into the response and its `WWW-Authenticate` challenge.
 */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export abstract class BearerTokenError extends Error {
  abstract readonly errorCode: BearerErrorCode;
  abstract readonly status: 400 | 401 | 403;
}

/** RFC 6750 §3.1: malformed request (e.g. `Authorization: Bearer` without a token) → 400. */
export class InvalidRequestError extends BearerTokenError {
  override readonly name = 'InvalidRequestError';
  readonly errorCode = 'invalid_request';
  readonly status = 400;
}

/**
 * RFC 6750 §3.1: "expired, revoked, malformed, or invalid for other reasons" → 401. Also a token for
 * another audience (RFC 8707 §2, RFC 9068 §4): a client holding it must get a new one, not retry.
 */
export class InvalidTokenError extends BearerTokenError {
  override readonly name = 'InvalidTokenError';
  readonly errorCode = 'invalid_token';
  readonly status = 401;
}

/** RFC 6750 §3.1: a valid token lacking a scope the request needs → 403, with the needed `scope`. */
export class InsufficientScopeError extends BearerTokenError {
  override readonly name = 'InsufficientScopeError';
  readonly errorCode = 'insufficient_scope';
  readonly status = 403;
  constructor(
    message: string,
    /** Every scope the request needs (RFC 6750 §3: the `scope` attribute of the challenge). */
    readonly requiredScopes: readonly string[],
  ) {
    super(message);
  }
}

/**
 * The issuer's keys could not be fetched (JWKS endpoint down, timed out, or not a key set). Not the
 * client's fault, and its token may be fine: answer 503 so it retries instead of discarding the token.
 */
export class KeySetUnavailableError extends Error {
  override readonly name = 'KeySetUnavailableError';
  readonly status = 503;
}
