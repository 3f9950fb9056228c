import { userCodeRoutingTag } from '../../domain/codes.js';
import { splitTokenHash } from '../../domain/opaque-token.js';
import { DEVICE_AUTHORIZATION_LIMITER } from '../../domain/grant-repository.js';

/**
 * The only place Redis key names are built (README, "Redis keys"). The same names serve a standalone
 * Redis and a Redis Cluster: every set of keys one operation touches atomically shares a hash tag
 * (`{…}`, the only part Redis Cluster hashes to pick the slot):
 * - a grant and its user-code index: `{<user code routing tag>}`, 4 characters of SHA-256(user code),
 *   which the device_code also carries in front (`<tag>.<random>`, src/domain/codes.ts), so polling
 *   (device_code only) and code entry (user_code only) each name the slot with no extra round trip;
 * - a refresh token, its successor and its family marker: `{<family id>}`, which every refresh token
 *   of the family carries in front (src/domain/token-grants.ts);
 * - everything else is one key per operation (the limiters' counters, authorization codes, the
 *   keyring, the session key, sign-out marks, the access-token deny-list) and needs no tag.
 * A credential without a well-formed tag (forged) names an untagged key: one key, no cross-slot access.
 */
export interface KeyBuilder {
  /** Hash holding one grant's state, named by the hash of its device_code (`<tag>.<SHA-256>`). */
  grant(deviceCodeHash: string): string;
  /** String holding the grant's device_code hash, named by the normalised user code. */
  userCodeIndex(userCode: string): string;
  /** The grant key with `{}` where the routing tag goes: scripts build a grant key from a hash with it. */
  grantTemplate(): string;
  /**
   * A counter of the device authorization flood limit: the very key rate-limiter-flexible uses for it
   * (limiterKeyPrefix), so both paths (one script on a standalone Redis, the limiter elsewhere) count alike.
   */
  deviceAuthorizationCounter(scope: 'ip' | 'account', subject: string): string;
}

/** `<prefix><kind>:{<tag>}<digest>` for a tagged hash, `<prefix><kind>:<digest>` otherwise. */
function taggedName(prefix: string, kind: string, tokenHash: string): string {
  const { tag, digest } = splitTokenHash(tokenHash);
  return tag === null ? `${prefix}${kind}:${digest}` : `${prefix}${kind}:{${tag}}${digest}`;
}

export function keyBuilder(prefix = 'devicegate:'): KeyBuilder {
  return {
    grant: (deviceCodeHash) => taggedName(prefix, 'g', deviceCodeHash),
    userCodeIndex: (userCode) => `${prefix}uc:{${userCodeRoutingTag(userCode)}}${userCode}`,
    grantTemplate: () => `${prefix}g:{}`,
    deviceAuthorizationCounter: (scope, subject) => `${limiterKeyPrefix(prefix, DEVICE_AUTHORIZATION_LIMITER, scope)}:${subject}`,
  };
}

/** Key names of the token repository (src/store/redis/tokens.ts). */
export interface TokenKeyBuilder {
  /** Hash holding one refresh token, named by the hash of the opaque token (`<family id>.<SHA-256>`). */
  refreshToken(tokenHash: string): string;
  /**
   * String `active` | `revoked`, one per family, living as long as the family's newest token.
   * `refreshFamily('')` is the template the scripts fill in (the id goes between the braces).
   */
  refreshFamily(familyId: string): string;
  /** String marking a revoked JWT access token until the token's own expiry. */
  revokedJti(jti: string): string;
}

export function tokenKeyBuilder(prefix = 'devicegate:'): TokenKeyBuilder {
  return {
    refreshToken: (tokenHash) => taggedName(prefix, 'refresh', tokenHash),
    refreshFamily: (familyId) => `${prefix}refresh_family:{${familyId}}`,
    revokedJti: (jti) => `${prefix}revoked_jti:${jti}`,
  };
}

/** Prefix under which rate-limiter-flexible keeps a limiter's counters (`<prefix>:<ip or account>`, one key per operation). */
export function limiterKeyPrefix(prefix: string, limiter: string, scope: 'ip' | 'account'): string {
  return `${prefix}limit:${limiter}:${scope}`;
}

/** Key names of the authorization-code repository (src/store/redis/authorization-codes.ts). */
export interface AuthorizationCodeKeyBuilder {
  /** Hash `{record, grant_id?, forget_at?}` of one code, named by the SHA-256 (base64url) of the code. */
  authorizationCode(codeHash: string): string;
}

export function authorizationCodeKeyBuilder(prefix = 'devicegate:'): AuthorizationCodeKeyBuilder {
  return { authorizationCode: (codeHash) => `${prefix}auth_code:${codeHash}` };
}

/** The shared keyring: JSON `{version, keys}` (src/tokens/shared-keys.ts). */
export const keyringKey = (prefix: string): string => `${prefix}keyring`;

/** The sealed HMAC key of the verification pages' cookies (src/tokens/shared-keys.ts). */
export const sessionKeyKey = (prefix: string): string => `${prefix}session_key`;

/** A signed-out session's mark until the session's own expiry (src/ui/session-revocations.ts). */
export const sessionEndedKey = (prefix: string, sessionId: string): string => `${prefix}session_ended:${sessionId}`;
