import { randomBytes } from 'node:crypto';
import {
  AUTHORIZATION_CODE_GRANT_TYPE,
  type ClientConfig,
  type ConfigFile,
  DEVICE_CODE_GRANT_TYPE,
  REFRESH_TOKEN_GRANT_TYPE,
} from '../config.js';
import { type AuthorizationCodeRepository, hashAuthorizationCode } from './authorization-code.js';
import { isValidCodeVerifier, verifyS256 } from './pkce.js';
import { RefreshTokenConflictError } from './token-repository.js';
import type { TokenRequest, TokenResponse } from '../contracts/token.js';
import type { DeviceGrantRepository } from './grant-repository.js';
import type { TokenRepository } from './token-repository.js';
import type { AccessTokenIssuer } from '../tokens/access-token.js';
import { generateOpaqueToken, hashOpaqueToken, routingTagOf } from './opaque-token.js';
import { type AuditSink, grantReference } from './audit.js';
import { assertGrantAllowed } from './clients.js';
import type { Clock } from './clock.js';
import { hashDeviceCode } from './codes.js';
import {
  AccessDeniedError,
  AuthorizationPendingError,
  ExpiredTokenError,
  InvalidGrantError,
  InvalidRequestError,
  InvalidScopeError,
  InvalidTargetError,
  type OAuthError,
  SlowDownError,
  UnsupportedGrantTypeError,
} from './errors.js';

export interface TokenGrantDeps {
  readonly grants: DeviceGrantRepository;
  readonly tokens: TokenRepository;
  /** Authorization codes (the code flow); absent: the authorization_code grant is unsupported. */
  readonly authorizationCodes?: AuthorizationCodeRepository;
  readonly accessTokens: AccessTokenIssuer;
  readonly clock: Clock;
  readonly issuer: string;
  readonly policy: ConfigFile['tokens'];
  /** Security events (refresh-token reuse) for the operator's log. */
  readonly securityLog?: (event: { event: string } & Record<string, unknown>) => void;
}

/** What a token is issued for: who approved, which scopes, which audiences. */
interface Authorization {
  readonly subject: string;
  readonly scope: readonly string[];
  /** The resources granted (RFC 8707); the token's audience is these or a subset the client names. */
  readonly resource: readonly string[];
}

/**
 * POST /oauth/token: dispatches on grant_type (RFC 6749 §4.5). The client is already authenticated.
 *
 * A device-code poll's outcome other than tokens (RFC 8628 §3.5: authorization_pending, slow_down,
 * access_denied, expired_token, and invalid_grant for a code that is not pending) is *returned* as its
 * OAuth error, not thrown: it is the ordinary answer to every poll but the last, and a throw through
 * the async chain up to the renderer costs a measurable share of a poll (README, "Benchmark"). It is
 * answered exactly as a thrown one (src/http/app.ts renders both). Everything else is thrown.
 */
export async function exchangeToken(
  deps: TokenGrantDeps,
  client: ClientConfig,
  request: TokenRequest,
  audit?: AuditSink,
): Promise<TokenResponse | OAuthError> {
  switch (request.grant_type) {
    case undefined:
      throw new InvalidRequestError('grant_type is required');
    // `return await`: in V8 an async function that returns a promise pays two extra microtask ticks.
    case DEVICE_CODE_GRANT_TYPE:
      return await redeemDeviceCode(deps, client, request, audit);
    case REFRESH_TOKEN_GRANT_TYPE:
      return await refresh(deps, client, request, audit);
    case AUTHORIZATION_CODE_GRANT_TYPE:
      if (deps.authorizationCodes) return await redeemAuthorizationCode(deps, deps.authorizationCodes, client, request, audit);
      throw new UnsupportedGrantTypeError('grant_type authorization_code is not supported');
    default:
      throw new UnsupportedGrantTypeError(`grant_type ${request.grant_type} is not supported`);
  }
}

/** RFC 8628 §3.4–3.5: one poll; one repository call (one Redis round trip) decides it. */
async function redeemDeviceCode(
  deps: TokenGrantDeps,
  client: ClientConfig,
  request: TokenRequest,
  audit?: AuditSink,
): Promise<TokenResponse | OAuthError> {
  assertGrantAllowed(client, DEVICE_CODE_GRANT_TYPE);
  if (request.device_code === undefined) throw new InvalidRequestError('device_code is required');
  // Refused before polling, so a wrong resource cannot spend an approved grant: a grant's resources
  // are always among the client's registered ones.
  const unregistered = (request.resource ?? []).filter((resource) => !client.resources.includes(resource));
  if (unregistered.length) throw new InvalidTargetError(`resource not allowed for this client: ${unregistered.join(' ')}`);
  const deviceCodeHash = hashDeviceCode(request.device_code);
  const outcome = await deps.grants.poll(deviceCodeHash, client.client_id, deps.clock.now());
  switch (outcome.kind) {
    case 'authorization_pending':
      return new AuthorizationPendingError('the user has not yet approved or denied the request');
    case 'slow_down':
      return new SlowDownError(`polling too fast; wait at least ${outcome.interval} seconds between requests`);
    case 'access_denied':
      return new AccessDeniedError('the user denied the request');
    case 'expired_token':
      audit?.('expired_on_poll', { client_id: client.client_id, grant: grantReference(deviceCodeHash) });
      return new ExpiredTokenError('the device_code has expired; start a new device authorization');
    case 'invalid_grant':
      return new InvalidGrantError('device_code is invalid, was issued to another client, or was already used');
    case 'approved': {
      const { grant } = outcome;
      const authorization = { subject: grant.subject ?? '', scope: grant.scope, resource: grant.resource };
      // A registered resource the person did not approve for this grant: the grant is spent (it was
      // consumed atomically by the poll), so the client must start again.
      const audience = audienceFor(client, authorization, request.resource);
      const tokens = await issueTokens(deps, client, authorization, authorization.scope, audience, { newFamily: true });
      audit?.('redeemed', {
        client_id: client.client_id,
        subject: authorization.subject,
        grant: grantReference(deviceCodeHash),
        scope: authorization.scope.join(' '),
      });
      return tokens;
    }
  }
}

/**
 * RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5–4.6) and RFC 8707: one atomic redemption (one Redis round
 * trip) spends the code, then the binding is checked — a request failing it has still spent the code.
 * A code presented again is refused and what its first redemption issued is revoked (RFC 6749 §4.1.2).
 */
async function redeemAuthorizationCode(
  deps: TokenGrantDeps,
  codes: AuthorizationCodeRepository,
  client: ClientConfig,
  request: TokenRequest,
  audit?: AuditSink,
): Promise<TokenResponse> {
  assertGrantAllowed(client, AUTHORIZATION_CODE_GRANT_TYPE);
  if (request.code === undefined) throw new InvalidRequestError('code is required');
  if (request.redirect_uri === undefined) throw new InvalidRequestError('redirect_uri is required (RFC 6749 §4.1.3)');
  if (request.code_verifier === undefined) throw new InvalidRequestError('code_verifier is required (PKCE, RFC 7636 §4.5)');
  // RFC 7636 §4.1: a malformed verifier is a malformed request; refused before it can spend the code.
  if (!isValidCodeVerifier(request.code_verifier)) throw new InvalidRequestError('code_verifier must be 43-128 unreserved characters (RFC 7636 §4.1)');
  // The family (grant_id) is minted first and recorded with the code, so a replay can revoke it.
  const grantId = randomBytes(16).toString('base64url');
  const now = deps.clock.now();
  const outcome = await codes.redeem(hashAuthorizationCode(request.code), grantId, now);
  if (outcome.kind === 'reused') {
    // RFC 6749 §4.1.2: deny, and revoke the refresh family and (at introspection) the access tokens
    // the first redemption issued. Whoever presents it, the code has leaked.
    await deps.tokens.revokeFamily(outcome.grantId, deps.policy.access_token_ttl * 1000, now);
    deps.securityLog?.({ event: 'authorization_code_reuse', clientId: client.client_id, familyId: outcome.grantId });
    audit?.('code_reuse', { client_id: client.client_id, grant_id: outcome.grantId });
    throw new InvalidGrantError('authorization code was already used; the tokens issued for it are revoked');
  }
  if (outcome.kind === 'invalid') throw new InvalidGrantError('authorization code is invalid or expired');
  const { code } = outcome;
  // RFC 6749 §4.1.3: issued to this client, for this redirect_uri (exactly as sent in the authorization request).
  if (code.clientId !== client.client_id) throw new InvalidGrantError('authorization code was issued to another client');
  if (code.redirectUri !== request.redirect_uri) throw new InvalidGrantError('redirect_uri does not match the authorization request');
  // RFC 7636 §4.6: the verifier must hash to the challenge; otherwise invalid_grant.
  if (!verifyS256(request.code_verifier, code.codeChallenge)) throw new InvalidGrantError('code_verifier does not match the code_challenge');
  const authorization = { subject: code.subject, scope: code.scope, resource: code.resource };
  const audience = audienceFor(client, authorization, request.resource);
  let tokens: TokenResponse;
  try {
    tokens = await issueTokens(deps, client, authorization, authorization.scope, audience, { newFamily: true, familyId: grantId });
  } catch (error) {
    // A replay raced this redemption and revoked the family first: nothing is issued.
    if (error instanceof RefreshTokenConflictError) throw new InvalidGrantError('authorization code was already used');
    throw error;
  }
  audit?.('redeemed', { client_id: client.client_id, subject: code.subject, grant_id: grantId, scope: code.scope.join(' '), flow: 'authorization_code' });
  return tokens;
}

/** RFC 6749 §6 with rotation and reuse detection (OAuth 2.1 §4.3.1). */
async function refresh(deps: TokenGrantDeps, client: ClientConfig, request: TokenRequest, audit?: AuditSink): Promise<TokenResponse> {
  assertGrantAllowed(client, REFRESH_TOKEN_GRANT_TYPE);
  if (request.refresh_token === undefined) throw new InvalidRequestError('refresh_token is required');
  const tokenHash = hashOpaqueToken(request.refresh_token);
  const now = deps.clock.now();
  // Validate the narrowing before rotating, so a bad scope or resource does not spend the token.
  // Scope and resource never change within a family, so this read cannot go stale.
  // Another client's token reads as unknown, so the answer cannot tell it that the token exists.
  const found = await deps.tokens.findRefreshToken(tokenHash, now);
  const current = found?.clientId === client.client_id ? found : null;
  const scope = current ? narrowScope(current.scope, request.scope) : [];
  const audience = current ? audienceFor(client, current, request.resource) : [];

  // The next token carries the presented one's routing tag (its family id): one family, one Redis Cluster slot.
  const nextToken = generateOpaqueToken(routingTagOf(request.refresh_token) ?? undefined);
  const rotation = await deps.tokens.rotateRefreshToken(
    { tokenHash, clientId: client.client_id, nextTokenHash: hashOpaqueToken(nextToken), ttlMs: deps.policy.refresh_token_ttl * 1000 },
    now,
  );
  if (rotation.kind === 'reused') {
    // Two parties hold this family (RFC 9700 §4.14.2): it is revoked now; worth an operator's look.
    deps.securityLog?.({ event: 'refresh_token_reuse', clientId: client.client_id, familyId: rotation.familyId });
    audit?.('refresh_reuse', { client_id: client.client_id, subject: found?.subject ?? null, grant_id: rotation.familyId });
  }
  if (rotation.kind !== 'rotated') throw new InvalidGrantError('refresh_token is invalid, expired, revoked or already used');
  return issueTokens(deps, client, rotation.previous, scope, audience, {
    newFamily: false,
    familyId: rotation.previous.familyId,
    refreshToken: nextToken,
  });
}

async function issueTokens(
  deps: TokenGrantDeps,
  client: ClientConfig,
  authorization: Authorization,
  scope: readonly string[],
  audience: readonly string[],
  refresh: { newFamily: true; familyId?: string } | { newFamily: false; familyId: string; refreshToken: string },
): Promise<TokenResponse> {
  const newFamily = refresh.newFamily && client.grant_types.includes(REFRESH_TOKEN_GRANT_TYPE);
  // A family id given for a new family (the code flow) names the grant even without refresh tokens.
  const familyId = refresh.newFamily ? (refresh.familyId ?? (newFamily ? randomBytes(16).toString('base64url') : undefined)) : refresh.familyId;
  const access = await deps.accessTokens.issue({
    subject: authorization.subject,
    clientId: client.client_id,
    scope,
    audience: audience.length ? audience : [deps.policy.default_audience ?? deps.issuer],
    grantId: familyId,
  });
  const response: TokenResponse = { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn };
  if (scope.length) response.scope = scope.join(' ');

  if (!refresh.newFamily) return { ...response, refresh_token: refresh.refreshToken };
  if (!newFamily || familyId === undefined) return response;
  // Tagged with its family id (already public as the access token's grant_id): see generateOpaqueToken.
  const refreshToken = generateOpaqueToken(familyId);
  const now = deps.clock.now();
  await deps.tokens.saveRefreshToken(
    {
      tokenHash: hashOpaqueToken(refreshToken),
      familyId,
      clientId: client.client_id,
      subject: authorization.subject,
      scope: authorization.scope,
      resource: authorization.resource,
      createdAt: now,
      expiresAt: now + deps.policy.refresh_token_ttl * 1000,
    },
    now,
  );
  return { ...response, refresh_token: refreshToken };
}

/** RFC 6749 §6: the requested scope MUST NOT include any scope not originally granted. */
function narrowScope(granted: readonly string[], requested: string | undefined): string[] {
  if (requested === undefined) return [...granted];
  const tokens = requested.split(' ');
  const wider = tokens.filter((token) => !granted.includes(token));
  if (wider.length || tokens.includes('')) throw new InvalidScopeError(`scope exceeds the granted scope: ${wider.join(' ')}`);
  return [...new Set(tokens)];
}

/**
 * RFC 8707 §2.2: at the token endpoint `resource` narrows the audience to some of the granted
 * resources (or, when none was named at authorization, to resources the client is registered for).
 */
function audienceFor(
  client: ClientConfig,
  authorization: Authorization,
  requested: readonly string[] | undefined,
): string[] {
  if (!requested?.length) return [...authorization.resource];
  const allowed = authorization.resource.length ? authorization.resource : client.resources;
  const refused = requested.filter((resource) => !allowed.includes(resource));
  if (refused.length) throw new InvalidTargetError(`resource not granted: ${refused.join(' ')}`);
  return [...new Set(requested)];
}
