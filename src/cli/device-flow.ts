import {
  DEVICE_CODE_GRANT_TYPE,
  type DeviceAuthorizationResponse,
  type DiscoveredServer,
  DiscoveryError,
  discover,
  EndpointNotAdvertisedError,
  OAuthResponseError,
  type TokenResponse,
} from '../sdk/index.js';
import { clientFor, type CliContext } from './context.js';
import { CliError, ExitCode } from './exit-codes.js';
import { assertSecureUrl } from './net.js';
import { DEFAULT_INTERVAL, type PollEvent, pollForToken } from './poller.js';
import { formatDuration } from './terminal.js';
import type { StoredLogin } from './token-store.js';
import { describeNetworkError, expiryOf, networkError } from './tokens.js';

/**
 * Where the person is shown the code, and told how the wait goes. `devicegate login` prints it on
 * stderr (or as JSON lines); `devicegate mcp-proxy` prints it on stderr and also asks the MCP host to
 * open the URL (URL-mode elicitation). `codes` may throw (or abort the flow's signal) to end the login.
 */
export interface CodeSink {
  codes(codes: DeviceAuthorizationResponse, interval: number, expiresAt: number): void | Promise<void>;
  startWaiting?(expiresAt: number): void;
  pollEvent?(event: PollEvent, expiresAt: number): void;
  stopWaiting?(): void;
  /** The login is stored. */
  approved?(login: StoredLogin, tokens: TokenResponse): void;
}

export interface DeviceFlowRequest {
  readonly issuer: string;
  readonly clientId: string;
  readonly scope?: string | undefined;
  readonly resource: readonly string[];
  readonly profile: string;
}

/**
 * RFC 8414 discovery for the device flow: the metadata must name a device authorization endpoint, and
 * every endpoint it names must be as secure as the issuer (https, or http on loopback).
 */
export async function discoverDeviceServer(ctx: CliContext, issuer: string, allowHttp: boolean, signal: AbortSignal = ctx.signal): Promise<DiscoveredServer> {
  const fetch = await ctx.fetch();
  let server: DiscoveredServer;
  try {
    server = await discover(issuer, { fetch, signal });
  } catch (error) {
    if (error instanceof DiscoveryError) {
      const exitCode = error.reason === 'invalid_issuer' ? ExitCode.usage : ExitCode.network;
      throw new CliError(exitCode, error.reason, `discovery failed: ${error.message}`, { cause: error });
    }
    throw requestFailure(signal, error, issuer, 'discovery');
  }
  const { metadata } = server;
  if (!metadata.device_authorization_endpoint) {
    throw new CliError(
      ExitCode.refused,
      'unsupported_grant_type',
      `${issuer} advertises no device_authorization_endpoint: it does not offer the device authorization grant (RFC 8628)`,
    );
  }
  // The metadata could point the codes and tokens at a clear-text URL; the same rule as for the issuer.
  for (const [name, url] of [
    ['device_authorization_endpoint', metadata.device_authorization_endpoint],
    ['token_endpoint', metadata.token_endpoint],
    ['revocation_endpoint', metadata.revocation_endpoint],
  ] as const) {
    if (url) assertSecureUrl(url, `the metadata's ${name}`, allowHttp, ExitCode.network);
  }
  return server;
}

/**
 * The device flow proper (RFC 8628 §3.1–3.5): asks for codes, hands them to `sink`, polls until the
 * person decides or the codes expire, and stores the tokens as the login `request` names (replacing,
 * and revoking, a previous one). Throws a CliError for every way it can fail; never hangs past the
 * codes' `expires_in`.
 */
export async function runDeviceFlow(
  ctx: CliContext,
  server: DiscoveredServer,
  request: DeviceFlowRequest,
  sink: CodeSink,
  signal: AbortSignal = ctx.signal,
): Promise<{ login: StoredLogin; tokens: TokenResponse }> {
  const { metadata, client } = server;
  const deviceEndpoint = metadata.device_authorization_endpoint ?? request.issuer;
  const requestedAt = ctx.clock.now();
  let codes: DeviceAuthorizationResponse;
  try {
    codes = await client.deviceAuthorization(
      { client_id: request.clientId, scope: request.scope, resource: request.resource.length ? [...request.resource] : undefined },
      { signal },
    );
  } catch (error) {
    throw requestFailure(signal, error, deviceEndpoint, 'the device authorization request');
  }
  assertCodes(codes, deviceEndpoint);
  const interval = codes.interval ?? DEFAULT_INTERVAL;
  const expiresAt = requestedAt + codes.expires_in * 1000;
  try {
    await sink.codes(codes, interval, expiresAt);
  } catch (error) {
    throw signal.aborted ? aborted(signal) : error;
  }

  sink.startWaiting?.(expiresAt);
  let tokenRequestedAt = requestedAt; // the access token's expires_in counts from the poll that got it
  const outcome = await pollForToken({
    requestToken: (pollSignal) => {
      tokenRequestedAt = ctx.clock.now();
      return client.token({ grant_type: DEVICE_CODE_GRANT_TYPE, device_code: codes.device_code, client_id: request.clientId }, { signal: pollSignal });
    },
    interval,
    expiresAt,
    clock: ctx.clock,
    sleep: ctx.sleep,
    signal,
    onEvent: (event) => sink.pollEvent?.(event, expiresAt),
  }).finally(() => sink.stopWaiting?.());

  switch (outcome.kind) {
    case 'interrupted':
      throw aborted(signal);
    case 'denied':
      throw new CliError(ExitCode.denied, 'access_denied', `the request was denied${outcome.description ? ` (${outcome.description})` : ''}`);
    case 'expired':
      throw new CliError(
        ExitCode.expired,
        'expired_token',
        `the code ${codes.user_code} expired after ${formatDuration(codes.expires_in)} without approval: run devicegate login again`,
      );
    case 'unreachable':
      throw new CliError(
        ExitCode.network,
        'network_error',
        `the code expired while ${metadata.token_endpoint} could not be reached (last error: ${failureReason(outcome.cause)})`,
        { cause: outcome.cause },
      );
    case 'refused':
      throw new CliError(ExitCode.refused, outcome.error.error, `the token endpoint refused the device code: ${outcome.error.message}`);
    case 'approved':
      break;
  }
  const tokens = outcome.tokens;
  if (!tokens || typeof tokens.access_token !== 'string' || !tokens.access_token) {
    throw new CliError(ExitCode.network, 'invalid_response', `${metadata.token_endpoint} answered without an access_token`);
  }
  const login = await storeLogin(ctx, request, server, tokens, tokenRequestedAt);
  sink.approved?.(login, tokens);
  return { login, tokens };
}

/** A failed SDK call as a CliError: interrupted, the server's refusal (4xx), or a network/server error. */
export function requestFailure(signal: AbortSignal, error: unknown, url: string, what: string): CliError {
  if (signal.aborted) return aborted(signal);
  if (error instanceof CliError) return error;
  if (error instanceof EndpointNotAdvertisedError) return new CliError(ExitCode.refused, 'unsupported', error.message);
  if (error instanceof OAuthResponseError) {
    if (error.status >= 500 || error.status === 429) {
      return new CliError(ExitCode.network, error.error, `${what} failed: ${url} answered HTTP ${error.status} (${error.message})`, { cause: error });
    }
    return new CliError(ExitCode.refused, error.error, `${what} was refused: ${error.message}`, { cause: error });
  }
  if (error instanceof SyntaxError) {
    return new CliError(ExitCode.network, 'invalid_response', `${what} failed: ${url} did not answer JSON`, { cause: error });
  }
  return networkError(error, url);
}

/** Why a poll failed, for a message: the server's status and error, or the network error's reason. */
export function failureReason(cause: unknown): string {
  return cause instanceof OAuthResponseError ? `HTTP ${cause.status} ${cause.message}` : describeNetworkError(cause);
}

/**
 * The flow was stopped through its signal. The first Ctrl-C or SIGTERM carries an `interrupted`
 * CliError (see main.ts); another stopper (an MCP host that declined the elicitation) carries its own.
 */
export function aborted(signal: AbortSignal): CliError {
  const reason: unknown = signal.reason;
  if (reason instanceof CliError && reason.code !== 'interrupted') return reason;
  const exitCode = reason instanceof CliError ? reason.exitCode : ExitCode.interrupted;
  const what = exitCode === ExitCode.terminated ? 'terminated (SIGTERM)' : 'interrupted (Ctrl-C)';
  return new CliError(exitCode, 'interrupted', `${what}; nothing was stored`);
}

/** openapi-fetch does not validate responses: another server's answer is checked before it is shown. */
function assertCodes(codes: DeviceAuthorizationResponse, url: string): void {
  const ok =
    codes &&
    typeof codes.device_code === 'string' &&
    typeof codes.user_code === 'string' &&
    typeof codes.verification_uri === 'string' &&
    typeof codes.expires_in === 'number' &&
    codes.expires_in > 0 &&
    (codes.interval === undefined || (typeof codes.interval === 'number' && codes.interval >= 0)) &&
    (codes.verification_uri_complete === undefined || typeof codes.verification_uri_complete === 'string');
  if (!ok) throw new CliError(ExitCode.network, 'invalid_response', `${url} answered an invalid device authorization response`);
}

/** Writes the new login under its lock; a login it replaces has its refresh token revoked (best effort). */
async function storeLogin(
  ctx: CliContext,
  request: DeviceFlowRequest,
  server: DiscoveredServer,
  tokens: TokenResponse,
  requestedAt: number,
): Promise<StoredLogin> {
  const now = new Date(ctx.clock.now()).toISOString();
  const { metadata } = server;
  const login: StoredLogin = {
    version: 1,
    issuer: request.issuer,
    client_id: request.clientId,
    profile: request.profile,
    endpoints: {
      token: metadata.token_endpoint,
      revocation: metadata.revocation_endpoint ?? null,
      jwks_uri: metadata.jwks_uri ?? null,
    },
    token_type: tokens.token_type,
    access_token: tokens.access_token,
    expires_at: expiryOf(tokens, requestedAt),
    ...(tokens.refresh_token !== undefined && { refresh_token: tokens.refresh_token }),
    ...((tokens.scope ?? request.scope) !== undefined && { scope: tokens.scope ?? request.scope }),
    resource: [...request.resource],
    created_at: now,
    updated_at: now,
  };
  const previous = await ctx.store.withLock(login, async () => {
    const before = await ctx.store.read(login);
    await ctx.store.write(login);
    return before?.login;
  });
  // A login replaced by a new one: its refresh token is of no more use to anyone; best effort.
  if (previous?.refresh_token && previous.refresh_token !== login.refresh_token && previous.endpoints.revocation) {
    const fetch = await ctx.fetch();
    await clientFor(previous, fetch)
      .revoke({ token: previous.refresh_token, token_type_hint: 'refresh_token', client_id: previous.client_id }, { signal: AbortSignal.timeout(5000) })
      .catch(() => undefined);
  }
  return login;
}
