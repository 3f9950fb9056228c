import { RevocationRequest, RevocationResponse, revocationErrors } from '../../contracts/revocation.js';
import { revokeToken } from '../../domain/token-admin.js';
import { authenticatedClient, endpoint } from '../endpoint.js';

/** RFC 7009. */
export const revoke = endpoint({
  input: RevocationRequest,
  output: RevocationResponse,
  openapi: {
    method: 'POST',
    path: '/oauth/revoke',
    summary: 'Token Revocation (RFC 7009)',
    description:
      'Revokes a refresh token (with every rotation of it, and the access tokens issued under it) or an access token ' +
      '(until it expires). Answers 200 whether or not the token was valid (RFC 7009 §2.2).',
    tags: ['OAuth'],
    successDescription: 'Revoked, or nothing to revoke',
  },
  oauthErrors: revocationErrors,
  run: async (ctx, input) => {
    await revokeToken(ctx.services.tokenAdmin, await authenticatedClient(ctx, input), input.token);
    return {};
  },
});
