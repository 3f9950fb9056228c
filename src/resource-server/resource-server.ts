import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { bearerChallenge } from './challenge.js';
import {
  type BearerTokenError,
  InsufficientScopeError,
  InvalidRequestError,
  InvalidTokenError,
  KeySetUnavailableError,
} from './errors.js';
import { type ProtectedResourceMetadata, protectedResourceMetadataPaths, protectedResourceMetadataUrl } from './metadata.js';

/** RFC 9068 §2.1: the `typ` of a JWT access token. A token with another `typ` (an ID token…) is refused. */
const ACCESS_TOKEN_TYP = 'at+jwt';

export interface ResourceServerOptions {
  /** The authorization server's issuer identifier (devicegate's `issuer`); `iss` must equal it exactly. */
  readonly issuer: string;
  /**
   * This server's resource identifier (RFC 8707, RFC 9728 `resource`): what clients send as `resource`
   * and what devicegate puts into `aud`. A token is accepted only when its `aud` contains exactly this
   * string (RFC 9068 §4) — a token for another MCP server is refused with `invalid_token`.
   */
  readonly resource: string;
  /** Where the issuer publishes its keys; default `${issuer}/.well-known/jwks.json` (devicegate's jwks_uri). */
  readonly jwksUri?: string;
  /** Keys to verify with instead of fetching `jwksUri` (pinned keys, tests). */
  readonly keys?: JWTVerifyGetKey;
  /** Scopes every request must carry (default none); a route can ask for more. */
  readonly requiredScopes?: readonly string[];
  /** RFC 9728 `scopes_supported` (default: `requiredScopes` when given). */
  readonly scopesSupported?: readonly string[];
  /** RFC 9728 `resource_name`, shown by some clients. */
  readonly resourceName?: string;
  readonly resourceDocumentation?: string;
  /** Accepted signing algorithms; devicegate signs ES256. */
  readonly algorithms?: readonly string[];
  /** Seconds of clock skew tolerated on `exp`/`iat`/`nbf` (default 0). */
  readonly clockToleranceSeconds?: number;
  /** Milliseconds since the epoch (tests). */
  readonly now?: () => number;
}

/** What a request's valid token says (RFC 9068 §2.2 claims). */
export interface VerifiedAccessToken {
  readonly token: string;
  /** `sub`: the person who approved. */
  readonly subject: string;
  /** `client_id`: the application acting for them. */
  readonly clientId: string;
  readonly scopes: readonly string[];
  /** `aud`, always as a list; contains this server's resource. */
  readonly audience: readonly string[];
  /** `exp`, seconds since the epoch. */
  readonly expiresAt: number;
  readonly issuedAt: number | undefined;
  readonly jti: string | undefined;
  /** devicegate's `grant_id` (the refresh-token family), when present. */
  readonly grantId: string | undefined;
  /** Every claim, for anything else an application wants to read. */
  readonly claims: JWTPayload;
}

export type AuthenticationResult =
  | { readonly ok: true; readonly token: VerifiedAccessToken }
  | {
      readonly ok: false;
      /** 400, 401, 403, or 503 when the issuer's keys could not be fetched. */
      readonly status: 400 | 401 | 403 | 503;
      /** Set for 400/401/403 (RFC 6750 §3, RFC 9728 §5.1). */
      readonly wwwAuthenticate: string | undefined;
      /** JSON body: `{error, error_description}`; `null` for a request without any token (RFC 6750 §3.1). */
      readonly body: { readonly error: string; readonly error_description: string } | null;
    };

/**
 * Protects one resource (one MCP server) with devicegate's tokens, offline: the token's signature is
 * checked against the issuer's published keys (fetched once and cached by jose; refetched when an
 * unknown `kid` appears, i.e. after a key rotation), then `typ`, `iss`, `aud`, `exp`, and scopes.
 * Revocation is not seen offline: access tokens are short-lived for that reason (RFC 9068 §5); use
 * token introspection (RFC 7662) where a revoked token must stop at once.
 */
export class ResourceServer {
  readonly issuer: string;
  readonly resource: string;
  readonly requiredScopes: readonly string[];
  /** RFC 9728 §3.1 URL of this resource's metadata, for `resource_metadata` and for clients. */
  readonly metadataUrl: string;
  /** The paths `handleMetadataRequest` answers: the path-suffixed form and the bare well-known path. */
  readonly metadataPaths: readonly string[];
  readonly metadata: ProtectedResourceMetadata;
  private readonly keys: JWTVerifyGetKey;
  private readonly algorithms: string[];
  private readonly clockTolerance: number;
  private readonly now: () => number;

  constructor(options: ResourceServerOptions) {
    if (!URL.canParse(options.resource) || new URL(options.resource).hash !== '') {
      // RFC 8707 §2: an absolute URI without a fragment.
      throw new TypeError(`resource must be an absolute URI without a fragment, got ${JSON.stringify(options.resource)}`);
    }
    this.issuer = options.issuer;
    this.resource = options.resource;
    this.requiredScopes = [...(options.requiredScopes ?? [])];
    this.metadataUrl = protectedResourceMetadataUrl(options.resource);
    this.metadataPaths = protectedResourceMetadataPaths(options.resource);
    const scopesSupported = options.scopesSupported ?? (this.requiredScopes.length > 0 ? this.requiredScopes : undefined);
    this.metadata = {
      resource: options.resource,
      authorization_servers: [options.issuer],
      bearer_methods_supported: ['header'],
      ...(scopesSupported ? { scopes_supported: [...scopesSupported] } : {}),
      ...(options.resourceName !== undefined ? { resource_name: options.resourceName } : {}),
      ...(options.resourceDocumentation !== undefined ? { resource_documentation: options.resourceDocumentation } : {}),
    };
    this.keys = options.keys ?? createRemoteJWKSet(new URL(options.jwksUri ?? `${options.issuer.replace(/\/$/, '')}/.well-known/jwks.json`));
    this.algorithms = [...(options.algorithms ?? ['ES256'])];
    this.clockTolerance = options.clockToleranceSeconds ?? 0;
    this.now = options.now ?? Date.now;
  }

  /**
   * Verifies a bearer token for this resource. Throws `InvalidTokenError` (anything wrong with the
   * token), `InsufficientScopeError` (valid, but lacks one of `requiredScopes` or the server's own),
   * or `KeySetUnavailableError` (the issuer's keys cannot be fetched right now).
   */
  async verifyAccessToken(token: string, requiredScopes: readonly string[] = []): Promise<VerifiedAccessToken> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.issuer,
        audience: this.resource,
        typ: ACCESS_TOKEN_TYP,
        algorithms: this.algorithms,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: this.clockTolerance,
        currentDate: new Date(this.now()),
      }));
    } catch (error) {
      throw tokenError(error);
    }
    const clientId = payload.client_id;
    if (typeof clientId !== 'string' || clientId === '') throw new InvalidTokenError('the token has no client_id (RFC 9068 §2.2)');
    if (payload.scope !== undefined && typeof payload.scope !== 'string') throw new InvalidTokenError('the token scope is not a string');
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    const needed = [...new Set([...this.requiredScopes, ...requiredScopes])];
    const missing = needed.filter((scope) => !scopes.includes(scope));
    if (missing.length > 0) throw new InsufficientScopeError(`the token lacks the scope ${missing.join(' ')}`, needed);
    return {
      token,
      subject: payload.sub!,
      clientId,
      scopes,
      audience: typeof payload.aud === 'string' ? [payload.aud] : [...(payload.aud ?? [])],
      expiresAt: payload.exp!,
      issuedAt: payload.iat,
      jti: payload.jti,
      grantId: typeof payload.grant_id === 'string' ? payload.grant_id : undefined,
      claims: payload,
    };
  }

  /**
   * Checks a request's `Authorization` header value and says what to answer. Never throws for
   * anything the client sent.
   */
  async authenticate(authorization: string | readonly string[] | undefined, requiredScopes: readonly string[] = []): Promise<AuthenticationResult> {
    const challengeScopes = [...new Set([...this.requiredScopes, ...requiredScopes])];
    const refuse = (error: BearerTokenError): AuthenticationResult => ({
      ok: false,
      status: error.status,
      wwwAuthenticate: bearerChallenge({ resourceMetadataUrl: this.metadataUrl, error, requiredScopes: challengeScopes }),
      body: { error: error.errorCode, error_description: error.message },
    });
    if (Array.isArray(authorization)) return refuse(new InvalidRequestError('more than one Authorization header'));
    const header = authorization as string | undefined;
    const match = /^Bearer(?: +(.*))?$/i.exec(header ?? '');
    if (!match) {
      // RFC 6750 §3.1: no credentials, or another scheme: a bare challenge without an error code.
      return {
        ok: false,
        status: 401,
        wwwAuthenticate: bearerChallenge({ resourceMetadataUrl: this.metadataUrl, requiredScopes: challengeScopes }),
        body: null,
      };
    }
    const token = match[1]?.trim() ?? '';
    // RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
    if (token === '') return refuse(new InvalidRequestError('the Authorization header has no bearer token'));
    if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) return refuse(new InvalidTokenError('the bearer token is malformed'));
    try {
      return { ok: true, token: await this.verifyAccessToken(token, requiredScopes) };
    } catch (error) {
      if (error instanceof InvalidTokenError || error instanceof InsufficientScopeError) return refuse(error);
      if (error instanceof KeySetUnavailableError) {
        return { ok: false, status: 503, wwwAuthenticate: undefined, body: { error: 'temporarily_unavailable', error_description: error.message } };
      }
      throw error;
    }
  }

  /**
   * node:http (or anything passing Node's request/response): authenticates `request`; on success
   * returns the token, otherwise writes the 400/401/403/503 response and returns null.
   */
  async protect(request: IncomingMessage, response: ServerResponse, requiredScopes: readonly string[] = []): Promise<VerifiedAccessToken | null> {
    const result = await this.authenticate(request.headers.authorization, requiredScopes);
    if (result.ok) return result.token;
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    if (result.wwwAuthenticate) headers['www-authenticate'] = result.wwwAuthenticate;
    if (result.body) headers['content-type'] = 'application/json; charset=utf-8';
    response.writeHead(result.status, headers).end(result.body ? JSON.stringify(result.body) : undefined);
    return null;
  }

  /** True when `pathname` is one of this resource's metadata paths. */
  isMetadataPath(pathname: string): boolean {
    return this.metadataPaths.includes(pathname);
  }

  /**
   * node:http: answers a GET/HEAD for the RFC 9728 metadata document and returns true, or returns
   * false (writing nothing) for any other path so the caller routes it on. CORS is open: browser-based
   * MCP clients fetch this document from another origin.
   */
  handleMetadataRequest(request: IncomingMessage, response: ServerResponse): boolean {
    const pathname = new URL(request.url ?? '/', 'http://resource.invalid').pathname;
    if (!this.isMetadataPath(pathname)) return false;
    if (request.method === 'OPTIONS') {
      response.writeHead(204, { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, HEAD, OPTIONS' }).end();
      return true;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD, OPTIONS' }).end();
      return true;
    }
    const body = JSON.stringify(this.metadata);
    response
      .writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'public, max-age=3600',
        'access-control-allow-origin': '*',
      })
      .end(request.method === 'HEAD' ? undefined : body);
    return true;
  }
}

/** One `ResourceServer` for one resource: see ResourceServerOptions. */
export function createResourceServer(options: ResourceServerOptions): ResourceServer {
  return new ResourceServer(options);
}

/** jose's verdict → the RFC 6750 error, with a description that says what was wrong. */
function tokenError(error: unknown): Error {
  // jose throws a bare JOSEError only from the remote key set (non-200 answer, body not JSON).
  const keySetFailure = error instanceof errors.JOSEError && error.constructor === errors.JOSEError;
  if (keySetFailure || error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
    return new KeySetUnavailableError(`the issuer's keys could not be fetched: ${error.message}`, { cause: error });
  }
  // fetch failures (connection refused, DNS) are TypeErrors from undici, not JOSE errors.
  if (error instanceof TypeError && !(error instanceof errors.JOSEError)) {
    return new KeySetUnavailableError(`the issuer's keys could not be fetched: ${error.message}`, { cause: error });
  }
  if (error instanceof errors.JWTExpired) return new InvalidTokenError('the token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return new InvalidTokenError('the token was not issued for this resource');
    if (error.claim === 'typ') return new InvalidTokenError('the token is not an access token (typ must be at+jwt, RFC 9068)');
    if (error.claim === 'iss') return new InvalidTokenError('the token was issued by another authorization server');
    return new InvalidTokenError(`the token's ${error.claim} claim is not acceptable`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey) {
    return new InvalidTokenError('the token signature does not verify with the issuer keys');
  }
  if (error instanceof errors.JOSEError) return new InvalidTokenError('the token is not a valid access token');
  return error instanceof Error ? error : new Error(String(error));
}
