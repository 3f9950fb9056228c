import type { Context } from 'koa';
import type { RequestContext, Services } from '../trpc/trpc.js';

/** What one HTTP request tells the application layer besides its form: client credentials, origin. */
export function requestContext(services: Services, ctx: Context, basic: RequestContext['basic']): RequestContext {
  return {
    services,
    basic,
    requester: { ip: ctx.ip || null, userAgent: ctx.get('user-agent').slice(0, 512) || null },
  };
}
