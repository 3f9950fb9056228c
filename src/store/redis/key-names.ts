/**
 * The only place Redis key names are built. No `{…}` in the names: braces are Redis Cluster hash
 * tags, and this layout targets a standalone or Sentinel-managed Redis (see README, "Redis keys").
 */
export interface KeyBuilder {
  /** Hash holding one grant's state, named by the SHA-256 of its device_code. */
  grant(deviceCodeHash: string): string;
  /** String holding the grant key name, named by the normalised user code. */
  userCodeIndex(userCode: string): string;
}

export function keyBuilder(prefix = 'devicegate:'): KeyBuilder {
  return {
    grant: (deviceCodeHash) => `${prefix}grant:${deviceCodeHash}`,
    userCodeIndex: (userCode) => `${prefix}user_code:${userCode}`,
  };
}

/** Key names of the token repository (src/store/redis/tokens.ts). */
export interface TokenKeyBuilder {
  /** Hash holding one refresh token, named by the SHA-256 (base64url) of the opaque token. */
  refreshToken(tokenHash: string): string;
  /** String `active` | `revoked`, one per family, living as long as the family's newest token. */
  refreshFamily(familyId: string): string;
  /** String marking a revoked JWT access token until the token's own expiry. */
  revokedJti(jti: string): string;
}

export function tokenKeyBuilder(prefix = 'devicegate:'): TokenKeyBuilder {
  return {
    refreshToken: (tokenHash) => `${prefix}refresh:${tokenHash}`,
    refreshFamily: (familyId) => `${prefix}refresh_family:${familyId}`,
    revokedJti: (jti) => `${prefix}revoked_jti:${jti}`,
  };
}

/** Prefix under which rate-limiter-flexible keeps a limiter's counters (`<prefix>:<ip or account>`). */
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
