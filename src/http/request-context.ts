import { MAX_STORED_USER_AGENT_LENGTH } from '../domain/device-grant.js';
import type { RequestContext, Services } from '../app/services.js';
import type { Exchange } from './exchange.js';

/** What one HTTP request tells the application layer besides its form: client credentials, origin. */
export function requestContext(services: Services, exchange: Exchange, basic: RequestContext['basic']): RequestContext {
  return new HttpRequestContext(services, basic, exchange);
}

// A class, so that the lazy getters live on the prototype: an object literal with a getter closing
// over the exchange would give every request's object its own hidden class, and the GC cost of a poll with it.
class HttpRequestContext implements RequestContext {
  constructor(
    readonly services: Services,
    readonly basic: RequestContext['basic'],
    private readonly exchange: Exchange,
  ) {}

  /** Records an audit event with this request's id and client IP (a closure made only when read). */
  get audit(): RequestContext['audit'] {
    const trail = this.services.audit;
    // Undefined when nothing would be kept: `ctx.audit?.(event, fields)` then skips computing the fields.
    if (!trail?.enabled) return undefined;
    const { requestId, ip } = this.exchange;
    return (event, fields) => trail.record(event, { request_id: requestId, ip: ip || null, ...fields });
  }

  /** Read only by the endpoint that records it (device authorization), not on every poll. */
  get requester(): RequestContext['requester'] {
    const userAgent = this.exchange.header('user-agent') ?? '';
    return { ip: this.exchange.ip || null, userAgent: userAgent.slice(0, MAX_STORED_USER_AGENT_LENGTH) || null };
  }
}
