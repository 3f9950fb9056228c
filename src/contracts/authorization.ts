import { z } from 'zod';

/**
 * The authorization endpoint (OAuth 2.1 §4.1.1, RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 8707 §2). It is
 * a browser endpoint — its answers are redirects and pages, not JSON — so this contract documents it
 * in the OpenAPI document (src/openapi/document.ts); src/domain/authorization-request.ts applies the
 * rules in the order RFC 6749 §4.1.2.1 requires (which errors are shown, which are sent back).
 */
export const AuthorizationRequest = z
  .object({
    response_type: z.literal('code').meta({ description: 'Only `code` (OAuth 2.1 §4.1.1); anything else: `unsupported_response_type`.' }),
    client_id: z.string().meta({
      description: 'A registered client, or an https URL naming a Client ID Metadata Document (when enabled).',
      example: 'demo-browser',
    }),
    redirect_uri: z.string().meta({
      description:
        'Exactly one of the client\'s `redirect_uris`; a loopback `http://127.0.0.1/…` or `http://[::1]/…` matches on any port (RFC 8252 §7.3).',
      example: 'http://127.0.0.1:53682/callback',
    }),
    code_challenge: z.string().meta({ description: 'BASE64URL(SHA-256(code_verifier)), 43 characters (RFC 7636 §4.2).' }),
    code_challenge_method: z.literal('S256').meta({ description: 'Required; `plain` is refused (OAuth 2.1 §4.1.1).' }),
    state: z.string().max(1000).optional().meta({ description: 'Returned unchanged with the code or the error.' }),
    scope: z.string().optional().meta({ description: 'Space-separated; omitted: every scope the client may have.' }),
    resource: z
      .array(z.url())
      .max(10)
      .optional()
      .meta({ description: 'RFC 8707 resource indicators (repeatable): the audiences of the tokens.' }),
  })
  .meta({ id: 'AuthorizationRequest', description: 'Authorization request (OAuth 2.1 §4.1.1 with PKCE S256 and RFC 8707).' });
export type AuthorizationRequest = z.infer<typeof AuthorizationRequest>;
