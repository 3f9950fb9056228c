import { IntrospectionRequest, IntrospectionResponse, introspectionErrors } from '../../contracts/introspection.js';
import { InvalidClientError } from '../../domain/errors.js';
import { introspectToken } from '../../domain/token-admin.js';
import { authenticatedClient, endpoint } from '../endpoint.js';

/** RFC 7662. */
export const introspect = endpoint({
  input: IntrospectionRequest,
  output: IntrospectionResponse,
  openapi: {
    method: 'POST',
    path: '/oauth/introspect',
    summary: 'Token Introspection (RFC 7662)',
    description: 'For authenticated confidential clients (resource servers). Inactive tokens are `{"active": false}`.',
    tags: ['OAuth'],
    successDescription: 'RFC 7662 §2.2 introspection response',
  },
  oauthErrors: introspectionErrors,
  run: async (ctx, input) => {
    // RFC 7662 §2.1: the endpoint MUST require authorization; none at all is invalid_client (401).
    if (!ctx.basic && input.client_id === undefined) throw new InvalidClientError('introspection requires client authentication');
    return introspectToken(ctx.services.tokenAdmin, await authenticatedClient(ctx, input), input.token);
  },
});
