import { z } from 'zod';
import { ResourceIndicator } from './device-authorization.js';
import { optionalFormParam } from './form-params.js';

export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * RFC 6749 §4.5 / RFC 8628 §3.4 and RFC 6749 §6: one form for every grant this endpoint serves.
 * `grant_type` is a plain string here so that an unknown one is `unsupported_grant_type` (the
 * domain decides), not a validation error; which other parameters are required depends on it.
 */
export const TokenRequest = z
  .object({
    grant_type: optionalFormParam('grant_type').meta({
      description:
        '`urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4), `authorization_code` (RFC 6749 §4.1.3 with PKCE) or `refresh_token` (RFC 6749 §6).',
      example: DEVICE_CODE_GRANT_TYPE,
    }),
    device_code: optionalFormParam('device_code').meta({ description: 'Required for the device_code grant.' }),
    code: optionalFormParam('code').meta({ description: 'authorization_code grant: the code from the authorization response.' }),
    code_verifier: optionalFormParam('code_verifier').meta({
      description: 'authorization_code grant: the PKCE verifier whose S256 hash is the code_challenge (RFC 7636 §4.5).',
    }),
    redirect_uri: optionalFormParam('redirect_uri').meta({
      description: 'authorization_code grant: exactly the redirect_uri of the authorization request (RFC 6749 §4.1.3).',
    }),
    refresh_token: optionalFormParam('refresh_token').meta({ description: 'Required for the refresh_token grant.' }),
    client_id: optionalFormParam('client_id').meta({
      description: 'The client identifier; required unless the client authenticates with HTTP Basic.',
      example: 'demo-cli',
    }),
    client_secret: optionalFormParam('client_secret').meta({ description: 'For client_secret_post clients.' }),
    scope: optionalFormParam('scope').meta({
      description: 'refresh_token grant: narrow the access token to these scopes (never wider than granted).',
    }),
    resource: z
      .array(ResourceIndicator)
      .max(10)
      .optional()
      .meta({ description: 'RFC 8707: narrow the token audience to these of the granted resources.' }),
  })
  .meta({ description: 'Token request (RFC 8628 §3.4 device_code grant, RFC 6749 §4.1.3 authorization_code grant, RFC 6749 §6 refresh).' });
export type TokenRequest = z.infer<typeof TokenRequest>;

/** RFC 6749 §5.1 successful token response. */
export const TokenResponse = z
  .object({
    access_token: z.string().meta({ description: 'An RFC 9068 JWT (ES256, typ at+jwt); verify it with the JWKS.' }),
    token_type: z.literal('Bearer'),
    expires_in: z.int().min(1).max(86_400).meta({ description: 'Access token lifetime in seconds.' }),
    scope: z.string().optional().meta({ description: 'The granted scopes, space-separated.' }),
    refresh_token: z
      .string()
      .optional()
      .meta({ description: 'Opaque; rotated on every use. Present when the client is allowed the refresh_token grant.' }),
  })
  .meta({ id: 'TokenResponse', description: 'RFC 6749 §5.1 token response.' });
export type TokenResponse = z.infer<typeof TokenResponse>;

export const tokenErrors = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'authorization_pending',
  'slow_down',
  'access_denied',
  'expired_token',
  'temporarily_unavailable',
] as const;
