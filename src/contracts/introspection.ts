import { z } from 'zod';
import { formParam, optionalFormParam } from './form-params.js';

/** RFC 7662 §2.1 introspection request; only authenticated confidential clients may ask. */
export const IntrospectionRequest = z
  .object({
    token: formParam('token'),
    token_type_hint: optionalFormParam('token_type_hint').meta({ description: '`access_token` or `refresh_token`.' }),
    client_id: optionalFormParam('client_id'),
    client_secret: optionalFormParam('client_secret'),
  })
  .meta({ description: 'RFC 7662 §2.1 token introspection request.' });
export type IntrospectionRequest = z.infer<typeof IntrospectionRequest>;

/** RFC 7662 §2.2: `{"active": false}` alone for anything not currently valid. */
export const IntrospectionResponse = z
  .object({
    active: z.boolean(),
    scope: z.string().optional(),
    client_id: z.string().optional(),
    sub: z.string().optional(),
    aud: z.union([z.string(), z.array(z.string())]).optional(),
    iss: z.string().optional(),
    exp: z.int().min(0).max(1e11).optional(),
    iat: z.int().min(0).max(1e11).optional(),
    jti: z.string().optional(),
    token_type: z.enum(['Bearer', 'refresh_token']).optional(),
  })
  .meta({ id: 'IntrospectionResponse', description: 'RFC 7662 §2.2 introspection response.' });
export type IntrospectionResponse = z.infer<typeof IntrospectionResponse>;

export const introspectionErrors = ['invalid_request', 'invalid_client', 'temporarily_unavailable'] as const;
