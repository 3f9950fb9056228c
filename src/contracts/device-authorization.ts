import { z } from 'zod';
import { optionalFormParam } from './form-params.js';

/** RFC 8707 §2: an absolute URI without a fragment. */
export const ResourceIndicator = z
  .string()
  .refine(isAbsoluteUriWithoutFragment, { message: 'resource must be an absolute URI without a fragment (RFC 8707 §2)' })
  .meta({ description: 'RFC 8707 resource indicator: an absolute URI without a fragment.', example: 'https://mcp.example.com/' });

function isAbsoluteUriWithoutFragment(value: string): boolean {
  if (!URL.canParse(value)) return false;
  // URL accepts "foo:bar"; RFC 3986 absolute-URI needs only a scheme, but a fragment is forbidden.
  return !value.includes('#');
}

/**
 * RFC 8628 §3.1 Device Authorization Request (application/x-www-form-urlencoded).
 * Not strict: RFC 6749 §3.1 says unknown parameters MUST be ignored.
 */
export const DeviceAuthorizationRequest = z
  .object({
    client_id: optionalFormParam('client_id').meta({
      description: 'The client identifier (RFC 6749 §2.2). Required unless the client authenticates with HTTP Basic.',
      example: 'demo-cli',
    }),
    client_secret: optionalFormParam('client_secret').meta({
      description: 'Client secret for confidential clients registered with client_secret_post (RFC 6749 §2.3.1).',
    }),
    scope: optionalFormParam('scope').meta({
      description: 'Space-delimited scopes (RFC 6749 §3.3); defaults to all scopes the client is allowed.',
      example: 'openid profile',
    }),
    resource: z
      .array(ResourceIndicator)
      .max(10)
      .optional()
      .meta({ description: 'RFC 8707 resource indicators; repeat the parameter for several.' }),
  })
  .meta({ description: 'RFC 8628 §3.1 device authorization request.' });
export type DeviceAuthorizationRequest = z.infer<typeof DeviceAuthorizationRequest>;

/** RFC 8628 §3.2 Device Authorization Response. */
export const DeviceAuthorizationResponse = z
  .object({
    device_code: z.string().meta({ description: 'The device verification code: 43 base64url characters (32 random bytes).' }),
    user_code: z
      .string()
      .meta({ description: 'The code the person types: 8 characters shown as XXXX-XXXX.', example: 'WDJB-MJHT' }),
    verification_uri: z.url().meta({ example: 'https://auth.example.com/device' }),
    verification_uri_complete: z.url().meta({ example: 'https://auth.example.com/device?user_code=WDJB-MJHT' }),
    expires_in: z.int().min(1).max(86_400).meta({ description: 'Lifetime in seconds of device_code and user_code.' }),
    interval: z
      .int()
      .min(1)
      .max(3_600)
      .meta({ description: 'Minimum seconds between polls of the token endpoint. Always present: the server dictates it.' }),
  })
  .meta({ id: 'DeviceAuthorizationResponse', description: 'RFC 8628 §3.2 device authorization response.' });
export type DeviceAuthorizationResponse = z.infer<typeof DeviceAuthorizationResponse>;

/** Error codes this endpoint can answer with (OpenAPI documentation and tests). */
export const deviceAuthorizationErrors = [
  'invalid_request',
  'invalid_client',
  'unauthorized_client',
  'invalid_scope',
  'invalid_target',
  'temporarily_unavailable',
] as const;

