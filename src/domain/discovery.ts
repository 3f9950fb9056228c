import { type ClientConfig, DEVICE_CODE_GRANT_TYPE, REFRESH_TOKEN_GRANT_TYPE } from '../config.js';
import type { AuthorizationServerMetadata } from '../contracts/discovery.js';

/**
 * RFC 8414 §2 metadata: only what is true of this server. `issuer` is exactly ISSUER (RFC 8414 §3.3
 * requires clients to compare it). There is no authorization endpoint (this server only speaks the
 * device grant), so `response_types_supported` is empty.
 */
export function authorizationServerMetadata(issuer: string, clients: readonly ClientConfig[]): AuthorizationServerMetadata {
  const scopes = new Set(clients.flatMap((client) => client.scope.split(' ').filter(Boolean)));
  const authMethods = ['none', 'client_secret_basic', 'client_secret_post'];
  return {
    issuer,
    device_authorization_endpoint: `${issuer}/oauth/device/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    grant_types_supported: [DEVICE_CODE_GRANT_TYPE, REFRESH_TOKEN_GRANT_TYPE],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_methods_supported: authMethods,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    scopes_supported: [...scopes].sort(),
    service_documentation: `${issuer}/docs`,
  };
}
