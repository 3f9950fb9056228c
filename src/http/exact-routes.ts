import type { Context, Middleware, Next } from 'koa';
import { InvalidRequestError } from '../domain/errors.js';

export type RouteMethod = 'GET' | 'POST';
export type RouteHandler = (ctx: Context) => void | Promise<void>;

interface Route {
  readonly method: RouteMethod;
  readonly handler: RouteHandler;
  /** RFC 9110 §15.5.6: a 405 names the methods the resource does support. */
  readonly allow: string;
}

/**
 * Dispatch for the OAuth endpoints and the service's own documents: one method per path, matched
 * exactly and case-sensitively. These paths are published verbatim (RFC 8414 metadata, the OpenAPI
 * document), so clients never need a trailing slash or another spelling to be forgiven, and a poll
 * costs one Map lookup instead of a pattern router's matching. Any other method on a known path is
 * 405 with Allow and an RFC 6749 §5.2 body; unknown paths go on to the next middleware.
 */
export class ExactRoutes {
  private readonly routes = new Map<string, Route>();

  add(method: RouteMethod, path: string, handler: RouteHandler): this {
    if (this.routes.has(path)) throw new Error(`route ${path} is already defined`);
    // GET answers HEAD too (Koa sends the headers without the body).
    this.routes.set(path, { method, handler, allow: method === 'GET' ? 'GET, HEAD' : method });
    return this;
  }

  middleware(): Middleware {
    const routes = this.routes;
    return function dispatchExactRoute(ctx: Context, next: Next) {
      const route = routes.get(ctx.path);
      if (route === undefined) return next();
      if (ctx.method === route.method || (route.method === 'GET' && ctx.method === 'HEAD')) return route.handler(ctx);
      ctx.set('Allow', route.allow);
      throw new InvalidRequestError(`${ctx.method} is not allowed; use ${route.method}`, 405);
    };
  }
}
