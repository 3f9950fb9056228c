import type { Context } from 'koa';
import { createCaller } from '../trpc/router.js';
import type { RequestContext, Services } from '../trpc/trpc.js';

export type Caller = (ctx: Context, basic: RequestContext['basic']) => ReturnType<typeof createCaller>;

/** Binds the tRPC router to one HTTP request: the services plus what the request says about itself. */
export function callerFactory(services: Services): Caller {
  return (ctx, basic) =>
    createCaller({
      services,
      basic,
      requester: { ip: ctx.ip || null, userAgent: ctx.get('user-agent').slice(0, 512) || null },
    });
}
