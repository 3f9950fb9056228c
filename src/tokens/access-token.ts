import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, errors, jwtVerify, type JWTVerifyGetKey, SignJWT } from 'jose';
import { z } from 'zod';
import type { Clock } from '../domain/clock.js';
import { SIGNING_ALG, type SigningKeys } from './signing-keys.js';

/** RFC 9068 §2.1: the `typ` header that tells an access token from an ID token or any other JWT. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** RFC 9068 §2.2 claims, as devicegate issues them. Unknown claims are dropped when verifying. */
const AccessTokenPayload = z.object({
  iss: z.string(),
  sub: z.string(),
  /** One audience is a string, several an array (RFC 7519 §4.1.3). */
  aud: z.union([z.string(), z.array(z.string()).min(1)]),
  client_id: z.string(),
  /** Space-separated (RFC 9068 §2.2.3, RFC 8693 §4.2); absent when no scope was granted. */
  scope: z.string().optional(),
  iat: z.number(),
  exp: z.number(),
  jti: z.string(),
  /** The refresh-token family (grant) the token was issued under, when there is one. */
  grant_id: z.string().optional(),
});
export type AccessTokenPayload = z.infer<typeof AccessTokenPayload>;

export interface IssueAccessTokenInput {
  /** The resource owner who approved (RFC 9068 §2.2: `sub`). */
  readonly subject: string;
  readonly clientId: string;
  readonly scope: readonly string[];
  /** RFC 8707 resource indicators, or the default audience when the client named none (RFC 9068 §3). */
  readonly audience: string | readonly string[];
  /** The refresh-token family, so that revoking the grant deactivates the token too (RFC 7009 §2.1). */
  readonly grantId?: string | undefined;
}

export interface IssuedAccessToken {
  readonly token: string;
  readonly jti: string;
  /** Seconds, for the token response's `expires_in` (RFC 6749 §5.1). */
  readonly expiresIn: number;
  /** Milliseconds since the epoch; equals the token's `exp` × 1000. */
  readonly expiresAt: number;
}

/** Issues and checks RFC 9068 JWT access tokens, signed ES256 with the first key of the set. */
export class AccessTokenIssuer {
  private readonly issuer: string;
  private readonly ttlSeconds: number;
  private readonly clock: Clock;
  private readonly verificationKeys: JWTVerifyGetKey;

  constructor(
    private readonly keys: SigningKeys,
    options: { issuer: string; ttlSeconds: number; clock: Clock },
  ) {
    if (!Number.isSafeInteger(options.ttlSeconds) || options.ttlSeconds <= 0) {
      throw new RangeError(`access token ttlSeconds must be a positive integer, got ${options.ttlSeconds}`);
    }
    this.issuer = options.issuer;
    this.ttlSeconds = options.ttlSeconds;
    this.clock = options.clock;
    // Every published key, as a resource server would resolve them: tokens signed before a rotation
    // keep verifying while their key is still published.
    this.verificationKeys = createLocalJWKSet({ keys: [...keys.publicJwks.keys] });
  }

  async issue(input: IssueAccessTokenInput): Promise<IssuedAccessToken> {
    const audience = [...new Set(typeof input.audience === 'string' ? [input.audience] : input.audience)];
    const [firstAudience] = audience;
    // RFC 9068 §3: without a resource parameter the server MUST still put a default resource in `aud`.
    if (firstAudience === undefined) throw new TypeError('an access token needs at least one audience');
    const iat = Math.floor(this.clock.now() / 1000);
    const claims: AccessTokenPayload = {
      iss: this.issuer,
      sub: input.subject,
      aud: audience.length === 1 ? firstAudience : audience,
      client_id: input.clientId,
      iat,
      exp: iat + this.ttlSeconds,
      // RFC 9068 §2.2 / RFC 7519 §4.1.7: unique per token; 128 random bits make collisions negligible.
      jti: randomBytes(16).toString('base64url'),
    };
    if (input.scope.length > 0) claims.scope = input.scope.join(' ');
    if (input.grantId !== undefined) claims.grant_id = input.grantId;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: SIGNING_ALG, typ: ACCESS_TOKEN_TYP, kid: this.keys.signing.kid })
      .sign(this.keys.signing.privateKey);
    return { token, jti: claims.jti, expiresIn: this.ttlSeconds, expiresAt: claims.exp * 1000 };
  }

  /**
   * The claims of a token this server issued and that is still valid at the clock's time, or null for
   * anything else (bad signature, unknown kid, another `typ` or issuer, expired, not a JWT at all). For
   * token introspection (RFC 7662), which answers `active: false` rather than an error. The audience is
   * not checked: the introspecting resource server does that (RFC 9068 §4).
   */
  async verify(token: string): Promise<AccessTokenPayload | null> {
    try {
      const { payload } = await jwtVerify(token, this.verificationKeys, {
        issuer: this.issuer,
        typ: ACCESS_TOKEN_TYP,
        algorithms: [SIGNING_ALG],
        currentDate: new Date(this.clock.now()),
      });
      const parsed = AccessTokenPayload.safeParse(payload);
      return parsed.success ? parsed.data : null;
    } catch (error) {
      // jose reports every problem with the token as a JOSEError; anything else is a bug of ours
      // (e.g. an unusable key) and must surface rather than make every token look inactive.
      if (error instanceof errors.JOSEError) return null;
      throw error;
    }
  }
}
