import type { Context } from 'koa';
import type { Caller } from '../caller.js';

/**
 * GET /.well-known/oauth-authorization-server (RFC 8414) and /.well-known/jwks.json. Public and
 * cacheable for a short while: clients and resource servers fetch them often, and a key rotation
 * publishes the new key before it signs (see README).
 */
export function metadataHandler(callerFor: Caller) {
  return async (ctx: Context) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = await callerFor(ctx, undefined).metadata({});
  };
}

export function jwksHandler(callerFor: Caller) {
  return async (ctx: Context) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = await callerFor(ctx, undefined).jwks({});
  };
}
