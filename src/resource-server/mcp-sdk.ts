import type { OAuthTokenVerifier } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import {
  InsufficientScopeError as SdkInsufficientScopeError,
  InvalidTokenError as SdkInvalidTokenError,
  ServerError as SdkServerError,
} from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { BearerAuthMiddlewareOptions } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InsufficientScopeError, InvalidTokenError } from './errors.js';
import type { ResourceServer } from './resource-server.js';

/**
 * The MCP TypeScript SDK's `OAuthTokenVerifier` over a ResourceServer: `requireBearerAuth` answers
 * 401 `invalid_token` only for the SDK's own InvalidTokenError (403 for its InsufficientScopeError,
 * 500 for anything else), so our errors are translated into the SDK's classes here.
 *
 * `AuthInfo.extra` carries `subject` (`sub`), `jti`, `grantId` and `audience`; handlers read it as
 * `extra.authInfo` in tool callbacks.
 */
export function mcpTokenVerifier(resourceServer: ResourceServer): OAuthTokenVerifier {
  return {
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      try {
        const verified = await resourceServer.verifyAccessToken(token);
        return {
          token,
          clientId: verified.clientId,
          scopes: [...verified.scopes],
          expiresAt: verified.expiresAt,
          resource: new URL(resourceServer.resource),
          extra: { subject: verified.subject, jti: verified.jti, grantId: verified.grantId, audience: [...verified.audience] },
        };
      } catch (error) {
        if (error instanceof InvalidTokenError) throw new SdkInvalidTokenError(error.message);
        if (error instanceof InsufficientScopeError) throw new SdkInsufficientScopeError(error.message);
        throw new SdkServerError(error instanceof Error ? error.message : 'token verification failed');
      }
    },
  };
}

/**
 * Everything `requireBearerAuth` needs, from one ResourceServer:
 * `app.post('/mcp', requireBearerAuth(mcpBearerAuthOptions(resourceServer)), handler)`.
 * Its `resourceMetadataUrl` makes the SDK's 401/403 challenges carry RFC 9728 `resource_metadata`.
 */
export function mcpBearerAuthOptions(resourceServer: ResourceServer): BearerAuthMiddlewareOptions {
  return {
    verifier: mcpTokenVerifier(resourceServer),
    requiredScopes: [...resourceServer.requiredScopes],
    resourceMetadataUrl: resourceServer.metadataUrl,
    expectedResource: new URL(resourceServer.resource),
  };
}
