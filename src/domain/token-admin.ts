import type { ClientConfig } from '../config.js';
import type { IntrospectionResponse } from '../contracts/introspection.js';
import type { TokenRepository } from './token-repository.js';
import type { AccessTokenIssuer, AccessTokenPayload } from '../tokens/access-token.js';
import { hashOpaqueToken } from './opaque-token.js';
import type { AuditSink } from './audit.js';
import type { Clock } from './clock.js';
import { InvalidClientError } from './errors.js';

export interface TokenAdminDeps {
  readonly tokens: TokenRepository;
  readonly accessTokens: AccessTokenIssuer;
  readonly clock: Clock;
}

/** A JWS compact serialization has three dot-separated parts; our refresh tokens have none. */
const looksLikeJwt = (token: string) => token.split('.').length === 3;

/**
 * RFC 7009 §2.1: revokes a refresh token (its whole family) or an access token (its jti, on a
 * deny-list until it expires). Only the client the token was issued to can revoke it; an unknown
 * or foreign token is silently accepted (RFC 7009 §2.2: 200 either way). `token_type_hint` is
 * unnecessary: the token's shape tells which kind it is.
 */
export async function revokeToken(deps: TokenAdminDeps, client: ClientConfig, token: string, audit?: AuditSink): Promise<void> {
  const now = deps.clock.now();
  if (looksLikeJwt(token)) {
    const payload = await deps.accessTokens.verify(token);
    if (payload && payload.client_id === client.client_id) {
      await deps.tokens.revokeAccessToken(payload.jti, payload.exp * 1000, now);
      audit?.('revoked', { client_id: client.client_id, subject: payload.sub, token_type: 'access_token', grant_id: payload.grant_id ?? null });
    }
    return;
  }
  if (await deps.tokens.revokeRefreshToken(hashOpaqueToken(token), client.client_id, now)) {
    audit?.('revoked', { client_id: client.client_id, token_type: 'refresh_token' });
  }
}

/**
 * RFC 7662 §2: for resource servers and confidential clients only (public clients cannot be
 * authenticated, RFC 7662 §4). Anything not currently valid is `{"active": false}` and nothing more.
 */
export async function introspectToken(deps: TokenAdminDeps, client: ClientConfig, token: string): Promise<IntrospectionResponse> {
  if (client.token_endpoint_auth_method === 'none') {
    throw new InvalidClientError('introspection requires an authenticated confidential client');
  }
  const inactive = { active: false } as const;
  if (looksLikeJwt(token)) {
    const payload = await deps.accessTokens.verify(token);
    if (!payload || (await isRevoked(deps, payload))) return inactive;
    return {
      active: true,
      token_type: 'Bearer',
      iss: payload.iss,
      sub: payload.sub,
      aud: payload.aud,
      client_id: payload.client_id,
      ...(payload.scope !== undefined && { scope: payload.scope }),
      iat: payload.iat,
      exp: payload.exp,
      jti: payload.jti,
    };
  }
  const record = await deps.tokens.findRefreshToken(hashOpaqueToken(token), deps.clock.now());
  if (!record) return inactive;
  return {
    active: true,
    token_type: 'refresh_token',
    sub: record.subject,
    client_id: record.clientId,
    ...(record.scope.length && { scope: record.scope.join(' ') }),
    iat: Math.floor(record.createdAt / 1000),
    exp: Math.floor(record.expiresAt / 1000),
  };
}

/** Revoked itself (jti deny-list), or its grant was (RFC 7009 §2.1: revoking a refresh token SHOULD end its access tokens). */
async function isRevoked(deps: TokenAdminDeps, payload: AccessTokenPayload): Promise<boolean> {
  const [jtiRevoked, grantRevoked] = await Promise.all([
    deps.tokens.isAccessTokenRevoked(payload.jti),
    payload.grant_id ? deps.tokens.isFamilyRevoked(payload.grant_id, deps.clock.now()) : false,
  ]);
  return jtiRevoked || grantRevoked;
}
