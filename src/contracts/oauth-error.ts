import { z } from 'zod';

/**
 * Every OAuth error code devicegate can answer with, and where it is defined.
 * The wire body is always RFC 6749 §5.2: {"error", "error_description"?, "error_uri"?}.
 */
export const OAuthErrorCode = z
  .enum([
    'invalid_request', // RFC 6749 §5.2
    'invalid_client', // RFC 6749 §5.2 (401)
    'invalid_grant', // RFC 6749 §5.2
    'unauthorized_client', // RFC 6749 §5.2
    'unsupported_grant_type', // RFC 6749 §5.2
    'invalid_scope', // RFC 6749 §5.2
    'access_denied', // RFC 8628 §3.5
    'authorization_pending', // RFC 8628 §3.5
    'slow_down', // RFC 8628 §3.5
    'expired_token', // RFC 8628 §3.5
    'invalid_target', // RFC 8707 §2
    'unsupported_token_type', // RFC 7009 §2.2.1
    'temporarily_unavailable', // RFC 6749 §4.1.2.1, answered as 503 when storage is unreachable
    'server_error', // RFC 6749 §4.1.2.1, answered as 500 only for faults of our own
  ])
  .meta({
    description:
      'OAuth error code: RFC 6749 §5.2, RFC 8628 §3.5 (device flow), RFC 8707 §2 (invalid_target), RFC 7009 §2.2.1.',
  });
export type OAuthErrorCode = z.infer<typeof OAuthErrorCode>;

/** RFC 6749 §5.2 error response body. */
export const OAuthErrorBody = z
  .object({
    error: OAuthErrorCode,
    // RFC 6749 §5.2: error_description is human-readable ASCII, excluding '"' and '\'.
    error_description: z.string().optional().meta({ description: 'Human-readable ASCII text for the developer.' }),
    error_uri: z.url().optional().meta({ description: 'A page with information about the error.' }),
  })
  .meta({
    id: 'OAuthError',
    description: 'RFC 6749 §5.2 error response.',
    example: { error: 'invalid_request', error_description: 'client_id is required' },
  });
export type OAuthErrorBody = z.infer<typeof OAuthErrorBody>;
