import { MAX_STORED_USER_AGENT_LENGTH } from '../domain/device-grant.js';
import type { Context } from 'koa';
import type { RequestContext, Services } from '../app/services.js';
import { requestIdOf } from './audit.js';

/** What one HTTP request tells the application layer besides its form: client credentials, origin. */
export function requestContext(services: Services, ctx: Context, basic: RequestContext['basic']): RequestContext {
  return new HttpRequestContext(services, basic, ctx);
}

// A class, so that the lazy getter lives on the prototype: an object literal with a getter closing
// over ctx would give every request's object its own hidden class, and the GC cost of a poll with it.
class HttpRequestContext implements RequestContext {
  constructor(
    readonly services: Services,
    readonly basic: RequestContext['basic'],
    private readonly ctx: Context,
  ) {}

  /** Records an audit event with this request's id and client IP (a closure made only when read). */
  get audit(): RequestContext['audit'] {
    const trail = this.services.audit;
    if (!trail) return undefined;
    return (event, fields) => trail.record(event, { request_id: requestIdOf(this.ctx), ip: this.ctx.ip || null, ...fields });
  }

  /** Read only by the endpoint that records it (device authorization), not on every poll. */
  get requester(): RequestContext['requester'] {
    return { ip: this.ctx.ip || null, userAgent: this.ctx.get('user-agent').slice(0, MAX_STORED_USER_AGENT_LENGTH) || null };
  }
}
