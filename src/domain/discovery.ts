import { AUTHORIZATION_CODE_GRANT_TYPE, type ClientConfig, DEVICE_CODE_GRANT_TYPE, REFRESH_TOKEN_GRANT_TYPE } from '../config.js';
import type { AuthorizationServerMetadata } from '../contracts/discovery.js';

/**
 * RFC 8414 §2 metadata: only what is true of this server. `issuer` is exactly ISSUER (RFC 8414 §3.3
 * requires clients to compare it). Both flows are served: the authorization code flow with PKCE S256
 * only (OAuth 2.1, RFC 7636) and `iss` in every authorization response (RFC 9207), and the device
 * grant (RFC 8628). MCP clients read this document and refuse it without `authorization_endpoint`.
 */
export function authorizationServerMetadata(
  issuer: string,
  clients: readonly ClientConfig[],
  options: { clientIdMetadataDocuments?: boolean; documentScope?: string } = {},
): AuthorizationServerMetadata {
  const scopes = new Set(clients.flatMap((client) => client.scope.split(' ').filter(Boolean)));
  if (options.clientIdMetadataDocuments) for (const scope of (options.documentScope ?? '').split(' ').filter(Boolean)) scopes.add(scope);
  const authMethods = ['none', 'client_secret_basic', 'client_secret_post'];
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    device_authorization_endpoint: `${issuer}/oauth/device/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    grant_types_supported: [AUTHORIZATION_CODE_GRANT_TYPE, DEVICE_CODE_GRANT_TYPE, REFRESH_TOKEN_GRANT_TYPE],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    token_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_methods_supported: authMethods,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    scopes_supported: [...scopes].sort(),
    service_documentation: `${issuer}/docs`,
    ...(options.clientIdMetadataDocuments ? { client_id_metadata_document_supported: true } : {}),
  };
}
