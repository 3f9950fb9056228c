/**
 * Storage for OAuth refresh tokens and for the access-token revocation deny-list: a handful of
 * domain verbs, two implementations (src/store/memory/tokens.ts, src/store/redis/tokens.ts) that pass one contract suite
 * (test/store/token-repository.contract.ts).
 *
 * Refresh tokens are opaque random strings. The store only ever sees their SHA-256 (base64url),
 * computed by the caller, so a leaked dump or `MONITOR` yields no usable token (RFC 6749 §10.4,
 * RFC 9700 §4.14). Times are ms since the epoch; every verb that depends on time takes `now`.
 *
 * Rotation and reuse detection (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2): every refresh hands out a new
 * refresh token and retires the presented one. All tokens descending from one grant form a *family*.
 * A retired token that is presented again means two parties hold the family (the legitimate client
 * and an attacker, in some order), and the server cannot tell which: the whole family is revoked.
 */

/** One refresh token as stored. */
export interface RefreshTokenRecord {
  /** SHA-256 (base64url) of the opaque token; the raw token is never stored. */
  readonly tokenHash: string;
  /** Shared by every rotation of one grant; reuse detection and revocation act on the family. */
  readonly familyId: string;
  /** RFC 6749 §6, §10.4: a refresh token is bound to the client it was issued to. */
  readonly clientId: string;
  /** The person who approved the grant. */
  readonly subject: string;
  /**
   * The scope of the original grant. RFC 6749 §6: a refresh can narrow the scope of the *access
   * token* it issues, never widen it; the refresh token itself keeps the original scope, so
   * rotation copies it unchanged.
   */
  readonly scope: readonly string[];
  /** RFC 8707 resource indicators of the original grant (the audiences tokens may be issued for). */
  readonly resource: readonly string[];
  readonly createdAt: number;
  /** The token is unusable from this instant on (active while `now < expiresAt`). */
  readonly expiresAt: number;
}

export interface RotationRequest {
  /** Hash of the refresh token the client presented. */
  readonly tokenHash: string;
  /** The authenticated client (RFC 6749 §6: the token must have been issued to it). */
  readonly clientId: string;
  /** Hash of the fresh refresh token that replaces the presented one. */
  readonly nextTokenHash: string;
  /** Lifetime of the next token: it expires at `now + ttlMs`. A positive integer. */
  readonly ttlMs: number;
}

export type RotationResult =
  /** The presented token is now used; `next` (same family, scope, resource, subject, client) is active. */
  | { readonly kind: 'rotated'; readonly previous: RefreshTokenRecord; readonly next: RefreshTokenRecord }
  /**
   * The presented token had already been used: this call detected the reuse and revoked the whole
   * family (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2). Reported once per family, so callers can log one
   * security event; later presentations of any token of the family are `invalid`.
   */
  | { readonly kind: 'reused'; readonly familyId: string }
  /** Unknown, expired, family revoked, or issued to another client. Callers answer `invalid_grant`. */
  | { readonly kind: 'invalid' };

/** Thrown when a new token hash is already stored (a caller bug; never expected from 256-bit tokens). */
export class RefreshTokenConflictError extends Error {
  override readonly name = 'RefreshTokenConflictError';
}

export interface TokenRepository {
  /**
   * Stores the first refresh token of a new family (after a device_code redemption), its family
   * active. Throws `RefreshTokenConflictError` (writing nothing) when the token hash or the family
   * is already stored, and `RangeError` when the record is already expired at `now`.
   */
  saveRefreshToken(record: RefreshTokenRecord, now: number): Promise<void>;

  /**
   * Atomically, exactly once under concurrency (of N concurrent rotations of one token exactly one
   * is `rotated`), in this order:
   * 1. unknown, or expired at `now` → `invalid`;
   * 2. issued to another client → `invalid`, nothing changes (RFC 6749 §6, §10.4: a client cannot
   *    use, nor burn, another client's token);
   * 3. family revoked → `invalid`;
   * 4. already used → the family is revoked, `reused` (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2);
   * 5. otherwise the token becomes used and the next one is stored: same family, client, subject,
   *    scope and resource (RFC 6749 §6), `createdAt = now`, `expiresAt = now + ttlMs`.
   * Used tokens are kept until their own expiry so that a replay is detected.
   */
  rotateRefreshToken(rotation: RotationRequest, now: number): Promise<RotationResult>;

  /** The active record (for introspection, RFC 7662), or null: unknown, used, expired, or family revoked. */
  findRefreshToken(tokenHash: string, now: number): Promise<RefreshTokenRecord | null>;

  /**
   * RFC 7009 §2.1: revokes the token's whole family (the grant) when the token is stored, not
   * expired, and was issued to `clientId` (used tokens included: they still name the family).
   * Returns true when this call revoked the family; false for unknown, expired, another client's
   * token, or an already revoked family. RFC 7009 §2.2: callers answer 200 either way for
   * invalid tokens.
   */
  revokeRefreshToken(tokenHash: string, clientId: string, now: number): Promise<boolean>;

  /**
   * RFC 7009 for JWT access tokens, which cannot be recalled: deny-lists the `jti` until the
   * token's own expiry (after it, the token is refused for being expired anyway). Nothing is
   * stored for a token already expired at `now`.
   */
  revokeAccessToken(jti: string, expiresAt: number, now: number): Promise<void>;

  /**
   * Revokes a family by its id (RFC 6749 §4.1.2: an authorization code used twice revokes what its
   * first redemption issued; the code store reports the family id). Access tokens carry the family as
   * `grant_id`, so introspection stops answering active for them too. When the family is not stored
   * (yet, or the client has no refresh tokens) a revoked marker is kept for `markerTtlMs`, so a
   * first redemption that races the replay cannot store it afterwards. Idempotent.
   */
  revokeFamily(familyId: string, markerTtlMs: number, now: number): Promise<void>;

  /** Whether the `jti` is on the deny-list (resource servers and introspection, RFC 7662). */
  isAccessTokenRevoked(jti: string): Promise<boolean>;

  /**
   * Whether the family was revoked (RFC 7009 revocation or reuse detection). Access tokens carry
   * their family as `grant_id`, so revoking a refresh token also deactivates them at introspection
   * (RFC 7009 §2.1: the server SHOULD also invalidate the grant's access tokens).
   */
  isFamilyRevoked(familyId: string, now: number): Promise<boolean>;

  /** Releases connections and timers it owns. */
  close(): Promise<void>;
}

/** Argument checks shared by both stores: mistakes of the caller, not conditions of the token. */
export function assertRotationRequest(rotation: RotationRequest): void {
  if (!Number.isSafeInteger(rotation.ttlMs) || rotation.ttlMs <= 0) {
    throw new RangeError(`ttlMs must be a positive integer, got ${rotation.ttlMs}`);
  }
  if (rotation.nextTokenHash === rotation.tokenHash) {
    throw new RefreshTokenConflictError('the next refresh token must differ from the presented one');
  }
}

export function assertSavable(record: RefreshTokenRecord, now: number): void {
  if (!Number.isSafeInteger(record.expiresAt) || record.expiresAt <= now) {
    throw new RangeError(`refresh token already expired (expiresAt ${record.expiresAt} <= now ${now})`);
  }
}

/** The record that replaces `previous` in a rotation (both stores build it the same way). */
export function nextRecord(previous: RefreshTokenRecord, rotation: RotationRequest, now: number): RefreshTokenRecord {
  return {
    ...previous,
    tokenHash: rotation.nextTokenHash,
    createdAt: now,
    expiresAt: now + rotation.ttlMs,
  };
}
