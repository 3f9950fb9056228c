import { z } from 'zod';

/** RFC 8414 §2 authorization server metadata, as devicegate publishes it. */
export const AuthorizationServerMetadata = z
  .object({
    issuer: z.url(),
    authorization_endpoint: z.url().meta({ description: 'The authorization code flow (OAuth 2.1 §4.1, PKCE S256 required).' }),
    device_authorization_endpoint: z.url(),
    token_endpoint: z.url(),
    jwks_uri: z.url(),
    revocation_endpoint: z.url(),
    introspection_endpoint: z.url(),
    grant_types_supported: z.array(z.string()),
    response_types_supported: z.array(z.string()),
    response_modes_supported: z.array(z.string()),
    token_endpoint_auth_methods_supported: z.array(z.string()),
    revocation_endpoint_auth_methods_supported: z.array(z.string()),
    introspection_endpoint_auth_methods_supported: z.array(z.string()),
    scopes_supported: z.array(z.string()),
    service_documentation: z.url(),
    code_challenge_methods_supported: z.array(z.string()),
    authorization_response_iss_parameter_supported: z.boolean().meta({ description: 'RFC 9207: every authorization response carries `iss`.' }),
    client_id_metadata_document_supported: z
      .boolean()
      .optional()
      .meta({ description: 'Client ID Metadata Documents: an https client_id is resolved by fetching it. Present when enabled.' }),
  })
  .meta({ id: 'AuthorizationServerMetadata', description: 'RFC 8414 §2 authorization server metadata.' });
export type AuthorizationServerMetadata = z.infer<typeof AuthorizationServerMetadata>;

/** RFC 7517 §5 JWK Set with public keys only. */
export const JsonWebKeySet = z
  .object({
    keys: z.array(
      z.object({
        kty: z.literal('EC'),
        crv: z.literal('P-256'),
        x: z.string(),
        y: z.string(),
        kid: z.string(),
        alg: z.literal('ES256'),
        use: z.literal('sig'),
      }),
    ),
  })
  .meta({ id: 'JsonWebKeySet', description: 'Public signing keys of access tokens (RFC 7517 §5).' });
export type JsonWebKeySet = z.infer<typeof JsonWebKeySet>;
