import { z } from 'zod';
import { AuthorizationServerMetadata, JsonWebKeySet } from '../../contracts/discovery.js';
import { endpoint } from '../endpoint.js';

/** RFC 8414 authorization server metadata. */
export const metadata = endpoint({
  input: z.object({}),
  output: AuthorizationServerMetadata,
  openapi: {
    method: 'GET',
    path: '/.well-known/oauth-authorization-server',
    summary: 'Authorization Server Metadata (RFC 8414)',
    tags: ['Discovery'],
  },
  run: async (ctx) => ctx.services.metadata,
});

/** The access-token signing keys (RFC 7517). */
export const jwks = endpoint({
  input: z.object({}),
  output: JsonWebKeySet,
  openapi: {
    method: 'GET',
    path: '/.well-known/jwks.json',
    summary: 'Access token signing keys (RFC 7517 JWK Set)',
    tags: ['Discovery'],
  },
  run: async (ctx) => ctx.services.jwks,
});
