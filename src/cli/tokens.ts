import type { Clock } from './clock.js';
import { OAuthResponseError, type TokenResponse } from '../sdk/index.js';
import { CliError, ExitCode } from './exit-codes.js';
import type { LockOptions, StoredEntry, StoredLogin, TokenStore } from './token-store.js';

/** Refresh when the access token has less than this left (so it does not expire in the caller's hands). */
export const DEFAULT_MIN_VALIDITY_SECONDS = 60;

/** Claims for display only: the signature is NOT verified (the resource server does that). */
export function peekClaims(accessToken: string): { sub?: string; exp?: number } {
  // A JWS compact serialisation: the payload is the second base64url part. (Not jose's decodeJwt:
  // loading jose costs `devicegate token` start-up time for a display-only peek.)
  const payload = accessToken.split('.');
  if (payload.length !== 3) return {}; // an opaque token: another server's
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload[1]!, 'base64url').toString('utf8'));
    if (typeof claims !== 'object' || claims === null) return {};
    const { sub, exp } = claims as { sub?: unknown; exp?: unknown };
    return { ...(typeof sub === 'string' && { sub }), ...(typeof exp === 'number' && Number.isFinite(exp) && { exp }) };
  } catch {
    return {};
  }
}

/**
 * When a token response's access token expires: `expires_in` if given (counted from `requestedAt`, the
 * moment the request was sent, to err on the early side), else the JWT's `exp`, else unknown.
 */
export function expiryOf(tokens: Pick<TokenResponse, 'access_token' | 'expires_in'>, requestedAt: number): string | null {
  if (typeof tokens.expires_in === 'number' && Number.isFinite(tokens.expires_in)) {
    return new Date(requestedAt + tokens.expires_in * 1000).toISOString();
  }
  const { exp } = peekClaims(tokens.access_token);
  return exp !== undefined ? new Date(exp * 1000).toISOString() : null;
}

/** Seconds the access token has left (negative: expired); null when its expiry is unknown. */
export function secondsLeft(login: StoredLogin, now: number): number | null {
  if (login.expires_at === null) return null;
  return Math.floor((Date.parse(login.expires_at) - now) / 1000);
}

export function isFresh(login: StoredLogin, now: number, minValiditySeconds: number): boolean {
  const left = secondsLeft(login, now);
  return left === null || left >= minValiditySeconds; // unknown expiry: use it until the server says no
}

/** The stored login after a successful token response: rotation honoured, scope kept if not echoed. */
export function applyTokenResponse(login: StoredLogin, tokens: TokenResponse, requestedAt: number, now: number): StoredLogin {
  return {
    ...login,
    token_type: tokens.token_type,
    access_token: tokens.access_token,
    expires_at: expiryOf(tokens, requestedAt),
    // RFC 6749 §6: a new refresh token replaces the old one (which is now spent); none means keep it.
    refresh_token: tokens.refresh_token ?? login.refresh_token,
    scope: tokens.scope ?? login.scope,
    updated_at: new Date(now).toISOString(),
  };
}

export interface RefreshDeps {
  readonly store: TokenStore;
  readonly clock: Clock;
  /** One refresh_token grant request at the login's token endpoint. */
  readonly refresh: (login: StoredLogin) => Promise<TokenResponse>;
  readonly minValiditySeconds?: number;
  readonly lock?: LockOptions;
  /**
   * An access token the resource server just answered 401 to: stale whatever its expiry says. If the
   * stored login (re-read under the lock) holds another one, another process refreshed meanwhile and
   * that one is used without a refresh.
   */
  readonly rejectedAccessToken?: string;
}

/**
 * A login whose access token is valid for at least `minValiditySeconds`: the stored one, or a
 * refreshed one (persisted, new refresh token included, before it is returned). Holds the login's
 * lock while refreshing and re-reads the file inside it, so concurrent callers refresh once.
 */
export async function ensureFresh(entry: StoredEntry, deps: RefreshDeps): Promise<StoredLogin> {
  const minValidity = deps.minValiditySeconds ?? DEFAULT_MIN_VALIDITY_SECONDS;
  const usable = (login: StoredLogin) => login.access_token !== deps.rejectedAccessToken && isFresh(login, deps.clock.now(), minValidity);
  if (usable(entry.login)) return entry.login;
  return deps.store.withLock(
    entry.login,
    async () => {
      const current = (await deps.store.read(entry.login))?.login;
      if (!current) throw new CliError(ExitCode.loginRequired, 'login_required', 'logged out meanwhile: run devicegate login');
      if (usable(current)) return current; // another process refreshed it
      if (!current.refresh_token) {
        throw new CliError(
          ExitCode.loginRequired,
          'login_required',
          `the access token for ${current.issuer} (client ${current.client_id}, profile ${current.profile}) has expired and there is no refresh token: run devicegate login`,
        );
      }
      const requestedAt = deps.clock.now();
      let tokens: TokenResponse;
      try {
        tokens = await deps.refresh(current);
      } catch (error) {
        throw refreshFailure(error, current);
      }
      if (!tokens || typeof tokens.access_token !== 'string') {
        throw new CliError(ExitCode.network, 'invalid_response', `${current.endpoints.token} answered without an access_token`);
      }
      const next = applyTokenResponse(current, tokens, requestedAt, deps.clock.now());
      await deps.store.write(next);
      return next;
    },
    deps.lock,
  );
}

function refreshFailure(error: unknown, login: StoredLogin): CliError {
  if (error instanceof OAuthResponseError) {
    if (error.error === 'invalid_grant') {
      return new CliError(
        ExitCode.loginRequired,
        'login_required',
        `the refresh token was rejected (expired, revoked or already used): run devicegate login --issuer ${login.issuer} --client-id ${login.client_id}${login.profile === 'default' ? '' : ` --profile ${login.profile}`}`,
        { cause: error },
      );
    }
    if (error.status >= 500 || error.error === 'temporarily_unavailable') {
      return new CliError(ExitCode.network, error.error, `refresh failed: the server answered ${error.status} ${error.message}`, { cause: error });
    }
    return new CliError(ExitCode.refused, error.error, `refresh refused by the server: ${error.message}`, { cause: error });
  }
  return networkError(error, login.endpoints.token);
}

/** A fetch failure as a CliError (exit 5), with the underlying reason (DNS, refused, TLS, timeout). */
export function networkError(error: unknown, url: string): CliError {
  if (error instanceof CliError) return error;
  return new CliError(ExitCode.network, 'network_error', `could not reach ${url}: ${describeNetworkError(error)}`, { cause: error });
}

export function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'timed out';
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ? `${code} (${cause.message})` : cause.message;
  }
  return error.message;
}
