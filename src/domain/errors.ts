import type { OAuthErrorCode } from '../contracts/oauth-error.js';

/**
 * One class per OAuth error code, as in node-oidc-provider: thrown anywhere, rendered in one place
 * (src/http/oauth-errors.ts). `status` is the HTTP status the RFC prescribes.
 */
export abstract class OAuthError extends Error {
  abstract readonly error: OAuthErrorCode;
  readonly status: number = 400;
  /** Extra response headers (WWW-Authenticate for invalid_client after Basic was tried). */
  readonly headers: Readonly<Record<string, string>> = {};

  constructor(
    readonly description?: string,
    options?: ErrorOptions,
  ) {
    // OAuth errors are answers, not faults (a pending poll is one): no stack trace to capture, which
    // costs more than the rest of a poll. Faults of our own are plain Errors and keep theirs.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(description, options);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = new.target.name;
  }
}

/** RFC 6749 §5.2 */
export class InvalidRequestError extends OAuthError {
  readonly error = 'invalid_request';
  constructor(description: string, override readonly status: number = 400) {
    super(description);
  }
}

/** RFC 6749 §5.2: 401, and WWW-Authenticate when the client tried the Authorization header. */
export class InvalidClientError extends OAuthError {
  readonly error = 'invalid_client';
  override readonly status = 401;
  override readonly headers: Readonly<Record<string, string>>;
  constructor(description: string, options: { basicAttempted?: boolean } = {}) {
    super(description);
    this.headers = options.basicAttempted ? { 'WWW-Authenticate': 'Basic realm="devicegate", charset="UTF-8"' } : {};
  }
}

/** RFC 6749 §5.2 */
export class InvalidGrantError extends OAuthError {
  readonly error = 'invalid_grant';
}
/** RFC 6749 §5.2 */
export class UnauthorizedClientError extends OAuthError {
  readonly error = 'unauthorized_client';
}
/** RFC 6749 §5.2 */
export class UnsupportedGrantTypeError extends OAuthError {
  readonly error = 'unsupported_grant_type';
}
/** RFC 6749 §5.2 */
export class InvalidScopeError extends OAuthError {
  readonly error = 'invalid_scope';
}
/** RFC 8628 §3.5 */
export class AuthorizationPendingError extends OAuthError {
  readonly error = 'authorization_pending';
}
/** RFC 8628 §3.5 */
export class SlowDownError extends OAuthError {
  readonly error = 'slow_down';
}
/** RFC 8628 §3.5 */
export class AccessDeniedError extends OAuthError {
  readonly error = 'access_denied';
}
/** RFC 8628 §3.5 */
export class ExpiredTokenError extends OAuthError {
  readonly error = 'expired_token';
}
/** RFC 8707 §2 */
export class InvalidTargetError extends OAuthError {
  readonly error = 'invalid_target';
}
/** Storage unreachable: a fast 503 the client may retry, never a hang. */
export class TemporarilyUnavailableError extends OAuthError {
  readonly error = 'temporarily_unavailable';
  override readonly status = 503;
}
/** A fault of our own; the description never carries internals. */
export class ServerError extends OAuthError {
  readonly error = 'server_error';
  override readonly status = 500;
}
