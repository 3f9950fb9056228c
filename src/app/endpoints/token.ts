import { TokenRequest, TokenResponse, tokenErrors } from '../../contracts/token.js';
import { exchangeToken } from '../../domain/token-grants.js';
import { authenticatedClient, endpoint } from '../endpoint.js';

/** RFC 8628 §3.4–3.5 (device_code), RFC 6749 §4.1.3 + RFC 7636 (authorization_code) and RFC 6749 §6 (refresh_token). */
export const token = endpoint({
  input: TokenRequest,
  output: TokenResponse,
  openapi: {
    method: 'POST',
    path: '/oauth/token',
    summary: 'Token Request (RFC 8628 §3.4, RFC 6749 §4.1.3, RFC 6749 §6)',
    description:
      'Polls with a device_code until the person decides (`authorization_pending`, `slow_down`: wait 5 s more from now on, ' +
      '`access_denied`, `expired_token`), redeems an authorization code once with its PKCE `code_verifier` and `redirect_uri` ' +
      '(a code used twice is refused and what it issued is revoked), or refreshes with a refresh_token (rotated on every use; a reused one revokes the family).',
    tags: ['OAuth'],
    successDescription: 'RFC 6749 §5.1 token response',
  },
  oauthErrors: tokenErrors,
  run: async (ctx, input) => await exchangeToken(ctx.services.tokenGrants, await authenticatedClient(ctx, input), input, ctx.audit),
});
