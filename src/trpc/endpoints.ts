import { z } from 'zod';
import {
  DeviceAuthorizationRequest,
  DeviceAuthorizationResponse,
  deviceAuthorizationErrors,
} from '../contracts/device-authorization.js';
import { AuthorizationServerMetadata, JsonWebKeySet } from '../contracts/discovery.js';
import { IntrospectionRequest, IntrospectionResponse, introspectionErrors } from '../contracts/introspection.js';
import { RevocationRequest, RevocationResponse, revocationErrors } from '../contracts/revocation.js';
import { TokenRequest, TokenResponse, tokenErrors } from '../contracts/token.js';
import { authorizeDevice } from '../domain/device-authorization.js';
import { grantReference } from '../domain/audit.js';
import { hashDeviceCode } from '../domain/codes.js';
import { InvalidClientError, RateLimitedError } from '../domain/errors.js';
import { introspectToken, revokeToken } from '../domain/token-admin.js';
import { exchangeToken } from '../domain/token-grants.js';
import type { RequestContext } from './trpc.js';

type OpenApiMeta = {
  readonly method: 'GET' | 'POST';
  readonly path: `/${string}`;
  readonly summary: string;
  readonly description?: string;
  readonly tags: string[];
  readonly successDescription?: string;
};

/**
 * One endpoint of the application layer: its contract (Zod input and output), its OpenAPI meta,
 * the OAuth errors it can answer with, and what it does. The tRPC router (router.ts) is built from
 * these, and so the OpenAPI document; the Koa handlers run them directly with the same contract
 * validation, because tRPC's per-call machinery cost a third of the endpoint's throughput
 * (bench/: 5.8k vs 8.3k req/s on Redis, same run).
 */
export interface Endpoint<Input extends z.ZodObject, Output extends z.ZodType> {
  readonly input: Input;
  readonly output: Output;
  readonly openapi: OpenApiMeta;
  readonly oauthErrors?: readonly string[];
  run(ctx: RequestContext, input: z.infer<Input>): Promise<z.infer<Output>>;
}

function endpoint<Input extends z.ZodObject, Output extends z.ZodType>(definition: Endpoint<Input, Output>) {
  return definition;
}

/** RFC 6749 §2.3: the client named by Basic or by the body, authenticated by its registered method. */
async function authenticatedClient(ctx: RequestContext, input: { client_id?: string | undefined; client_secret?: string | undefined }) {
  try {
    return await ctx.services.clients.authenticate({
      basic: ctx.basic,
      clientId: input.client_id,
      clientSecret: input.client_secret,
      ip: ctx.requester.ip,
    });
  } catch (error) {
    if (error instanceof RateLimitedError) lockout(ctx, error, ctx.basic?.clientId ?? input.client_id);
    throw error;
  }
}

function lockout(ctx: RequestContext, error: RateLimitedError, clientId: string | undefined): void {
  ctx.audit?.('lockout', { limiter: error.limiter, client_id: clientId ?? null, retry_after: error.retryAfterSeconds });
}

/**
 * Each device authorization creates a grant in the store: bounded per client IP and per client so a
 * flood cannot fill Redis (README, "Deploying it": the bound). Counted after authentication, so
 * unknown clients never get a limiter key; failed authentications have their own limit.
 */
async function limitDeviceAuthorizations(ctx: RequestContext, clientId: string): Promise<void> {
  const limiter = ctx.services.deviceAuthorizationLimiter;
  if (!limiter) return;
  const attempt = await limiter.attempt(ctx.requester.ip ?? 'unknown', clientId);
  if (attempt.allowed) return;
  const error = new RateLimitedError(
    `too many device authorization requests; retry after ${attempt.retryAfterSeconds} seconds`,
    attempt.retryAfterSeconds,
    'device_authorization',
  );
  lockout(ctx, error, clientId);
  throw error;
}

export const endpoints = {
  deviceAuthorization: endpoint({
    input: DeviceAuthorizationRequest,
    output: DeviceAuthorizationResponse,
    openapi: {
      method: 'POST',
      path: '/oauth/device/authorize',
      summary: 'Device Authorization Request (RFC 8628 §3.1)',
      description:
        'Issues a device_code for the client to poll with and a user_code for the person to enter at verification_uri. ' +
        'expires_in and interval are always present and dictated by the server.',
      tags: ['OAuth'],
      successDescription: 'RFC 8628 §3.2 device authorization response',
    },
    oauthErrors: deviceAuthorizationErrors,
    run: async (ctx, input) => {
      const client = await authenticatedClient(ctx, input);
      await limitDeviceAuthorizations(ctx, client.client_id);
      const response = await authorizeDevice(ctx.services.deviceAuthorization, client, {
        scope: input.scope,
        resource: input.resource,
        requester: ctx.requester,
      });
      ctx.audit?.('issued', {
        client_id: client.client_id,
        subject: null,
        grant: grantReference(hashDeviceCode(response.device_code)),
        expires_in: response.expires_in,
      });
      return response;
    },
  }),

  token: endpoint({
    input: TokenRequest,
    output: TokenResponse,
    openapi: {
      method: 'POST',
      path: '/oauth/token',
      summary: 'Token Request (RFC 8628 §3.4, RFC 6749 §6)',
      description:
        'Polls with a device_code until the person decides (`authorization_pending`, `slow_down`: wait 5 s more from now on, ' +
        '`access_denied`, `expired_token`), or refreshes with a refresh_token (rotated on every use; a reused one revokes the family).',
      tags: ['OAuth'],
      successDescription: 'RFC 6749 §5.1 token response',
    },
    oauthErrors: tokenErrors,
    run: async (ctx, input) => await exchangeToken(ctx.services.tokenGrants, await authenticatedClient(ctx, input), input, ctx.audit),
  }),

  revoke: endpoint({
    input: RevocationRequest,
    output: RevocationResponse,
    openapi: {
      method: 'POST',
      path: '/oauth/revoke',
      summary: 'Token Revocation (RFC 7009)',
      description:
        'Revokes a refresh token (with every rotation of it, and the access tokens issued under it) or an access token ' +
        '(until it expires). Answers 200 whether or not the token was valid (RFC 7009 §2.2).',
      tags: ['OAuth'],
      successDescription: 'Revoked, or nothing to revoke',
    },
    oauthErrors: revocationErrors,
    run: async (ctx, input) => {
      await revokeToken(ctx.services.tokenAdmin, await authenticatedClient(ctx, input), input.token, ctx.audit);
      return {};
    },
  }),

  introspect: endpoint({
    input: IntrospectionRequest,
    output: IntrospectionResponse,
    openapi: {
      method: 'POST',
      path: '/oauth/introspect',
      summary: 'Token Introspection (RFC 7662)',
      description: 'For authenticated confidential clients (resource servers). Inactive tokens are `{"active": false}`.',
      tags: ['OAuth'],
      successDescription: 'RFC 7662 §2.2 introspection response',
    },
    oauthErrors: introspectionErrors,
    run: async (ctx, input) => {
      // RFC 7662 §2.1: the endpoint MUST require authorization; none at all is invalid_client (401).
      if (!ctx.basic && input.client_id === undefined) throw new InvalidClientError('introspection requires client authentication');
      return introspectToken(ctx.services.tokenAdmin, await authenticatedClient(ctx, input), input.token);
    },
  }),

  metadata: endpoint({
    input: z.object({}),
    output: AuthorizationServerMetadata,
    openapi: {
      method: 'GET',
      path: '/.well-known/oauth-authorization-server',
      summary: 'Authorization Server Metadata (RFC 8414)',
      tags: ['Discovery'],
    },
    run: async (ctx) => ctx.services.metadata,
  }),

  jwks: endpoint({
    input: z.object({}),
    output: JsonWebKeySet,
    openapi: {
      method: 'GET',
      path: '/.well-known/jwks.json',
      summary: 'Access token signing keys (RFC 7517 JWK Set)',
      tags: ['Discovery'],
    },
    run: async (ctx) => ctx.services.jwks,
  }),
};

export type EndpointName = keyof typeof endpoints;
