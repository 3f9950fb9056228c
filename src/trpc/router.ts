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
import { InvalidClientError } from '../domain/errors.js';
import { introspectToken, revokeToken } from '../domain/token-admin.js';
import { exchangeToken } from '../domain/token-grants.js';
import { type RequestContext, t } from './trpc.js';

/** Form bodies: the OAuth endpoints speak application/x-www-form-urlencoded only (RFC 6749 §3.2). */
const FORM = ['application/x-www-form-urlencoded'];

/** RFC 6749 §2.3: the client named by Basic or by the body, authenticated by its registered method. */
function authenticatedClient(ctx: RequestContext, input: { client_id?: string | undefined; client_secret?: string | undefined }) {
  return ctx.services.clients.authenticate({ basic: ctx.basic, clientId: input.client_id, clientSecret: input.client_secret });
}

/**
 * The application layer. Koa calls these through `createCaller`; the same router yields the
 * OpenAPI document (src/contracts/openapi.ts). Input and output are the contracts in src/contracts/.
 */
export const appRouter = t.router({
  deviceAuthorization: t.procedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/oauth/device/authorize',
        operationId: 'deviceAuthorization',
        summary: 'Device Authorization Request (RFC 8628 §3.1)',
        description:
          'Issues a device_code for the client to poll with and a user_code for the person to enter at verification_uri. ' +
          'expires_in and interval are always present and dictated by the server.',
        tags: ['OAuth'],
        contentTypes: FORM,
        successDescription: 'RFC 8628 §3.2 device authorization response',
      },
    })
    .input(DeviceAuthorizationRequest)
    .output(DeviceAuthorizationResponse)
    .mutation(async ({ ctx, input }) =>
      authorizeDevice(ctx.services.deviceAuthorization, await authenticatedClient(ctx, input), {
        scope: input.scope,
        resource: input.resource,
        requester: ctx.requester,
      }),
    ),

  token: t.procedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/oauth/token',
        operationId: 'token',
        summary: 'Token Request (RFC 8628 §3.4, RFC 6749 §6)',
        description:
          'Polls with a device_code until the person decides (`authorization_pending`, `slow_down`: wait 5 s more from now on, ' +
          '`access_denied`, `expired_token`), or refreshes with a refresh_token (rotated on every use; a reused one revokes the family).',
        tags: ['OAuth'],
        contentTypes: FORM,
        successDescription: 'RFC 6749 §5.1 token response',
      },
    })
    .input(TokenRequest)
    .output(TokenResponse)
    .mutation(async ({ ctx, input }) => exchangeToken(ctx.services.tokenGrants, await authenticatedClient(ctx, input), input)),

  revoke: t.procedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/oauth/revoke',
        operationId: 'revoke',
        summary: 'Token Revocation (RFC 7009)',
        description:
          'Revokes a refresh token (with every rotation of it) or an access token (until it expires). ' +
          'Answers 200 whether or not the token was valid (RFC 7009 §2.2).',
        tags: ['OAuth'],
        contentTypes: FORM,
        successDescription: 'Revoked, or nothing to revoke',
      },
    })
    .input(RevocationRequest)
    .output(RevocationResponse)
    .mutation(async ({ ctx, input }) => {
      await revokeToken(ctx.services.tokenAdmin, await authenticatedClient(ctx, input), input.token);
      return {};
    }),

  introspect: t.procedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/oauth/introspect',
        operationId: 'introspect',
        summary: 'Token Introspection (RFC 7662)',
        description: 'For authenticated confidential clients (resource servers). Inactive tokens are `{"active": false}`.',
        tags: ['OAuth'],
        contentTypes: FORM,
        successDescription: 'RFC 7662 §2.2 introspection response',
      },
    })
    .input(IntrospectionRequest)
    .output(IntrospectionResponse)
    .mutation(async ({ ctx, input }) => {
      // RFC 7662 §2.1: the endpoint MUST require authorization; none at all is invalid_client (401).
      if (!ctx.basic && input.client_id === undefined) throw new InvalidClientError('introspection requires client authentication');
      return introspectToken(ctx.services.tokenAdmin, await authenticatedClient(ctx, input), input.token);
    }),

  metadata: t.procedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/.well-known/oauth-authorization-server',
        operationId: 'authorizationServerMetadata',
        summary: 'Authorization Server Metadata (RFC 8414)',
        tags: ['Discovery'],
      },
    })
    .input(z.object({}))
    .output(AuthorizationServerMetadata)
    .query(({ ctx }) => ctx.services.metadata),

  jwks: t.procedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/.well-known/jwks.json',
        operationId: 'jwks',
        summary: 'Access token signing keys (RFC 7517 JWK Set)',
        tags: ['Discovery'],
      },
    })
    .input(z.object({}))
    .output(JsonWebKeySet)
    .query(({ ctx }) => ctx.services.jwks),
});

/** Which OAuth error codes each operation can answer with (documented in the OpenAPI document). */
export const oauthErrorsByOperation: Record<string, readonly string[]> = {
  deviceAuthorization: deviceAuthorizationErrors,
  token: tokenErrors,
  revoke: revocationErrors,
  introspect: introspectionErrors,
};

export type AppRouter = typeof appRouter;
export const createCaller = t.createCallerFactory(appRouter);
