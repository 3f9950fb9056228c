import { z } from 'zod';
import { formParam, optionalFormParam } from './form-params.js';

/** RFC 7009 §2.1 revocation request. */
export const RevocationRequest = z
  .object({
    token: formParam('token').meta({ description: 'The refresh token or access token to revoke.' }),
    token_type_hint: optionalFormParam('token_type_hint').meta({
      description: '`refresh_token` or `access_token`; a hint only (RFC 7009 §2.1), unknown values are ignored.',
    }),
    client_id: optionalFormParam('client_id').meta({ example: 'demo-cli' }),
    client_secret: optionalFormParam('client_secret'),
  })
  .meta({ description: 'RFC 7009 §2.1 token revocation request.' });
export type RevocationRequest = z.infer<typeof RevocationRequest>;

/** RFC 7009 §2.2: 200 with an empty body, whether or not the token was valid. */
export const RevocationResponse = z.object({}).meta({ id: 'RevocationResponse', description: 'Always empty.' });

export const revocationErrors = ['invalid_request', 'invalid_client', 'temporarily_unavailable'] as const;
