import { createHash, randomBytes } from 'node:crypto';

/**
 * Authorization codes of the authorization code flow (RFC 6749 §4.1, OAuth 2.1 §4.1, RFC 7636).
 *
 * A code is a bearer secret that travels through the browser's address bar and the redirect, so:
 * - it is short-lived: RFC 6749 §4.1.2 recommends at most 10 minutes, OAuth 2.1 and the MCP profile
 *   ask for short; devicegate allows at most 60 s (a real client redeems it within a second);
 * - it is stored only as its SHA-256, so a leaked dump or `MONITOR` yields no redeemable code;
 * - it is bound to everything the authorization request established (client, redirect URI, PKCE
 *   challenge, resource, scope, the person who approved), checked again at the token endpoint;
 * - it is single-use, atomically: RFC 6749 §4.1.2 — "If an authorization code is used more than once,
 *   the authorization server MUST deny the request and SHOULD revoke (when possible) all tokens
 *   previously issued based on that authorization code." So redemption records the grant (refresh
 *   token family) id it leads to, and a second redemption reports that id for revocation.
 */

/** The longest lifetime a code may have (ms). */
export const AUTHORIZATION_CODE_MAX_TTL_MS = 60_000;

/**
 * How long a redeemed code is remembered after redemption (ms), so that a replay arriving after the
 * code's own expiry is still recognised as reuse and revokes what the first redemption issued,
 * instead of being a quiet `invalid_grant`. Longer than any access token is not needed: refresh
 * tokens of the family are revoked by family id whenever the replay comes within this window.
 */
export const REDEEMED_CODE_RETENTION_MS = 10 * 60_000;

/** One code as stored. Times are ms since the epoch. */
export interface AuthorizationCode {
  /** SHA-256 (base64url) of the code handed to the client; the raw code is never stored. */
  readonly codeHash: string;
  readonly clientId: string;
  /** Exactly the redirect_uri of the authorization request; the token request must repeat it (RFC 6749 §4.1.3). */
  readonly redirectUri: string;
  /** RFC 7636 §4.2 S256 challenge; the token request's code_verifier must hash to it (§4.6). */
  readonly codeChallenge: string;
  /** RFC 8707 resource indicators granted with this code. */
  readonly resource: readonly string[];
  /** The granted scope. */
  readonly scope: readonly string[];
  /** The person who approved. */
  readonly subject: string;
  readonly createdAt: number;
  /** Unusable from this instant on (valid while `now < expiresAt`); at most createdAt + 60 s. */
  readonly expiresAt: number;
}

export type RedemptionResult =
  /** First redemption: the code is now spent and `grantId` recorded with it. The caller still checks the binding. */
  | { readonly kind: 'redeemed'; readonly code: AuthorizationCode }
  /**
   * The code had already been redeemed (RFC 6749 §4.1.2): deny with `invalid_grant` and revoke the
   * grant the first redemption recorded (`grantId`: its refresh-token family and access tokens).
   * Reported on every further attempt while the code is remembered; revocation is idempotent.
   */
  | { readonly kind: 'reused'; readonly grantId: string; readonly clientId: string }
  /** Unknown or expired. The token endpoint answers `invalid_grant`. */
  | { readonly kind: 'invalid' };

/**
 * Storage of authorization codes: two verbs, each atomic and (on Redis) one round trip. Implemented by
 * src/store/authorization-code-memory.ts and src/store/authorization-code-redis.ts, which pass one
 * contract suite (test/store/authorization-code.contract.ts).
 */
export interface AuthorizationCodeRepository {
  /**
   * Stores a new code (see `assertStorableCode`). Resolves false, writing nothing, when a code with
   * the same hash already exists (a 256-bit collision: the caller mints a new code).
   */
  create(code: AuthorizationCode, now: number): Promise<boolean>;
  /**
   * Spends the code with this hash, exactly once across all concurrent callers and instances, and
   * records `grantId` — the refresh-token family / `grant_id` the caller is about to issue — with it.
   * Binding checks (client, redirect URI, PKCE, resource) happen after this, in the token endpoint:
   * a request that fails them has still spent the code, which is what a single-use code means.
   */
  redeem(codeHash: string, grantId: string, now: number): Promise<RedemptionResult>;
  close(): Promise<void>;
}

/** An authorization code: 32 random bytes (256 bits, RFC 6749 §10.10), base64url, 43 characters. */
export function generateAuthorizationCode(): string {
  return randomBytes(32).toString('base64url');
}

/** What the store keeps instead of the code. */
export function hashAuthorizationCode(code: string): string {
  return createHash('sha256').update(code).digest('base64url');
}

/** Refuses a record no correct caller builds: a TTL over 60 s, already expired, or missing a binding. */
export function assertStorableCode(code: AuthorizationCode, now: number): void {
  const ttl = code.expiresAt - now;
  if (!Number.isSafeInteger(code.expiresAt) || ttl <= 0 || code.expiresAt - code.createdAt > AUTHORIZATION_CODE_MAX_TTL_MS) {
    throw new RangeError(`an authorization code lives at most ${AUTHORIZATION_CODE_MAX_TTL_MS} ms and must not be expired`);
  }
  for (const field of ['codeHash', 'clientId', 'redirectUri', 'codeChallenge', 'subject'] as const) {
    if (code[field] === '') throw new TypeError(`an authorization code needs ${field}`);
  }
}
