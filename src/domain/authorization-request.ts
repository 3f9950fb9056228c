import { AUTHORIZATION_CODE_GRANT_TYPE } from '../config.js';
import {
  type AuthorizationCodeRepository,
  AUTHORIZATION_CODE_MAX_TTL_MS,
  generateAuthorizationCode,
  hashAuthorizationCode,
} from './authorization-code.js';
import { ClientMetadataError } from './client-metadata-document.js';
import type { ClientRegistry, ResolvedClient } from './clients.js';
import type { Clock } from './clock.js';
import { grantedResources, grantedScope } from './device-authorization.js';
import { OAuthError, TemporarilyUnavailableError } from './errors.js';
import { isValidS256Challenge, PKCE_METHOD } from './pkce.js';
import { redirectUriMatches } from './redirect-uri.js';

/**
 * The authorization endpoint's rules (RFC 6749 §4.1.1–4.1.2, OAuth 2.1 §4.1, RFC 7636, RFC 8707,
 * RFC 9207), independent of HTTP and pages: which requests are valid, which errors are shown to the
 * person and which go back to the client, and the code issued on approval.
 */

/** Codes live 60 s (the most authorization-code.ts allows): a real client redeems within a second. */
export const AUTHORIZATION_CODE_TTL_MS = AUTHORIZATION_CODE_MAX_TTL_MS;
/** How long a validated request may wait for sign-in and the person's decision. */
export const PENDING_AUTHORIZATION_TTL_MS = 10 * 60_000;
/** Bounds, so a request (kept in the signed session cookie while the person decides) stays small. */
const MAX_STATE_LENGTH = 1_000;
const MAX_RESOURCES = 10;
/**
 * The pending request travels in the session cookie (base64url, signed) while the person signs in;
 * browsers drop cookies over 4 KiB silently, so a larger request is refused up front.
 */
const MAX_PENDING_REQUEST_CHARS = 2_600;

/** A validated authorization request, waiting for the person's decision. */
export interface PendingAuthorization {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  /** Passed back unchanged (RFC 6749 §4.1.2); null when the client sent none. */
  readonly state: string | null;
  readonly scope: readonly string[];
  readonly resource: readonly string[];
  readonly createdAt: number;
}

export type AuthorizationRequestCheck =
  /**
   * The client or the redirect URI cannot be trusted: the person sees the error, the browser is
   * never sent anywhere (RFC 6749 §4.1.2.1 — otherwise the server is an open redirector).
   */
  | { readonly kind: 'show_error'; readonly error: string; readonly description: string }
  /** The redirect URI is the client's: the error goes back to it with state and iss (RFC 6749 §4.1.2.1, RFC 9207). */
  | { readonly kind: 'redirect_error'; readonly redirectUri: string; readonly state: string | null; readonly error: string; readonly description: string }
  | { readonly kind: 'valid'; readonly request: PendingAuthorization; readonly client: ResolvedClient };

export interface AuthorizationEndpointDeps {
  readonly clients: ClientRegistry;
  readonly codes: AuthorizationCodeRepository;
  readonly clock: Clock;
  /** Public base URL without trailing slash: the `iss` of every response (RFC 9207). */
  readonly issuer: string;
}

/** Query or form parameters: name → every value sent. */
export type AuthorizationParams = ReadonlyMap<string, readonly string[]>;

/** RFC 6749 §4.1.1 with OAuth 2.1 and RFC 8707: checks a request in the order §4.1.2.1 requires. */
export async function checkAuthorizationRequest(
  deps: Pick<AuthorizationEndpointDeps, 'clients' | 'clock'>,
  params: AuthorizationParams,
): Promise<AuthorizationRequestCheck> {
  const show = (error: string, description: string) => ({ kind: 'show_error', error, description }) as const;
  // RFC 6749 §3.1: request parameters MUST NOT be included more than once (resource may repeat, RFC 8707).
  const single = (name: string): string | undefined | null => {
    const values = params.get(name);
    if (!values?.length) return undefined;
    return values.length === 1 ? (values[0] as string) : null;
  };

  // 1. The client and its redirect URI: until both are trusted, errors are shown, never redirected.
  const clientId = single('client_id');
  if (clientId === undefined) return show('invalid_request', 'client_id is required');
  if (clientId === null) return show('invalid_request', 'client_id must be sent once');
  let client: ResolvedClient | undefined;
  try {
    client = await deps.clients.resolve(clientId);
  } catch (error) {
    // Every refusal of a Client ID Metadata Document is invalid_client, on the page.
    if (error instanceof ClientMetadataError) return show('invalid_client', `the client's metadata document cannot be used: ${error.message}`);
    throw error;
  }
  if (!client) return show('invalid_client', 'unknown client');
  const redirectUri = single('redirect_uri');
  if (redirectUri === undefined) return show('invalid_request', 'redirect_uri is required');
  if (redirectUri === null) return show('invalid_request', 'redirect_uri must be sent once');
  if (!redirectUriMatches(redirectUri, client.redirect_uris)) {
    return show('invalid_request', 'redirect_uri is not registered for this client');
  }

  // 2. From here on errors go back to the client's redirect URI, with its state.
  const rawState = single('state');
  const state = typeof rawState === 'string' && rawState.length <= MAX_STATE_LENGTH ? rawState : null;
  const back = (error: string, description: string) =>
    ({ kind: 'redirect_error', redirectUri, state, error, description }) as const;
  if (rawState === null) return back('invalid_request', 'state must be sent once');
  if (typeof rawState === 'string' && rawState.length > MAX_STATE_LENGTH) return back('invalid_request', `state is longer than ${MAX_STATE_LENGTH} characters`);

  const responseType = single('response_type');
  if (responseType === undefined) return back('invalid_request', 'response_type is required');
  if (responseType !== 'code') return back('unsupported_response_type', 'only response_type=code is supported');
  if (!client.active || !client.grant_types.includes(AUTHORIZATION_CODE_GRANT_TYPE)) {
    return back('unauthorized_client', 'the client is not allowed the authorization code grant');
  }

  // RFC 7636 §4.4.1, OAuth 2.1 §4.1.1: PKCE is required and only S256 is accepted (plain protects nothing).
  const challenge = single('code_challenge');
  const method = single('code_challenge_method');
  if (challenge === undefined) return back('invalid_request', 'code_challenge is required (PKCE, RFC 7636)');
  if (challenge === null || method === null) return back('invalid_request', 'PKCE parameters must be sent once');
  if (method !== PKCE_METHOD) {
    return back('invalid_request', method === undefined ? 'code_challenge_method=S256 is required' : `code_challenge_method ${method} is not supported; use S256`);
  }
  if (!isValidS256Challenge(challenge)) return back('invalid_request', 'code_challenge is not an S256 challenge (43 base64url characters)');

  const requestedResources = params.get('resource') ?? [];
  if (requestedResources.length > MAX_RESOURCES) return back('invalid_target', `at most ${MAX_RESOURCES} resource parameters`);
  const scopeParam = single('scope');
  if (scopeParam === null) return back('invalid_request', 'scope must be sent once');
  let scope: string[];
  let resource: string[];
  try {
    scope = grantedScope(client, scopeParam);
    resource = grantedResources(client, requestedResources);
  } catch (error) {
    if (error instanceof OAuthError) return back(error.error, error.message);
    throw error;
  }
  const request: PendingAuthorization = { clientId: client.client_id, redirectUri, codeChallenge: challenge, state, scope, resource, createdAt: deps.clock.now() };
  if (JSON.stringify(request).length > MAX_PENDING_REQUEST_CHARS) return back('invalid_request', 'the authorization request is too large');
  return { kind: 'valid', client, request };
}

/** True while a pending request may still be decided. */
export function isPendingAuthorizationCurrent(pending: PendingAuthorization, now: number): boolean {
  return now - pending.createdAt < PENDING_AUTHORIZATION_TTL_MS && pending.createdAt <= now;
}

/** Approve: a fresh single-use code bound to the request and the person (stored hashed). Returns the code. */
export async function issueAuthorizationCode(
  deps: Pick<AuthorizationEndpointDeps, 'codes' | 'clock'>,
  pending: PendingAuthorization,
  subject: string,
): Promise<string> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const code = generateAuthorizationCode();
    const now = deps.clock.now();
    const stored = await deps.codes.create(
      {
        codeHash: hashAuthorizationCode(code),
        clientId: pending.clientId,
        redirectUri: pending.redirectUri,
        codeChallenge: pending.codeChallenge,
        resource: pending.resource,
        scope: pending.scope,
        subject,
        createdAt: now,
        expiresAt: now + AUTHORIZATION_CODE_TTL_MS,
      },
      now,
    );
    if (stored) return code;
  }
  throw new TemporarilyUnavailableError('could not store an authorization code; retry');
}

/**
 * The redirect back to the client (RFC 6749 §4.1.2): the parameters are added to the redirect URI's
 * query, keeping the query it was registered with (§3.1.2), and always carry `iss` (RFC 9207 §2).
 */
export function authorizationResponseUri(
  issuer: string,
  redirectUri: string,
  params: { code?: string; error?: string; error_description?: string; state: string | null },
): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (typeof value === 'string') url.searchParams.append(name, value);
  url.searchParams.append('iss', issuer);
  return url.href;
}
