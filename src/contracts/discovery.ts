import { z } from 'zod';

/** RFC 8414 §2 authorization server metadata, as devicegate publishes it. */
export const AuthorizationServerMetadata = z
  .object({
    issuer: z.url(),
    device_authorization_endpoint: z.url(),
    token_endpoint: z.url(),
    jwks_uri: z.url(),
    revocation_endpoint: z.url(),
    introspection_endpoint: z.url(),
    grant_types_supported: z.array(z.string()),
    response_types_supported: z.array(z.string()),
    token_endpoint_auth_methods_supported: z.array(z.string()),
    revocation_endpoint_auth_methods_supported: z.array(z.string()),
    introspection_endpoint_auth_methods_supported: z.array(z.string()),
    scopes_supported: z.array(z.string()),
    service_documentation: z.url(),
    code_challenge_methods_supported: z.array(z.string()).optional(),
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
