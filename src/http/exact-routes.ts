import { InvalidRequestError, type OAuthError } from '../domain/errors.js';
import type { Exchange } from './exchange.js';

export type RouteMethod = 'GET' | 'POST';
/** Answers through the exchange, or returns the OAuth error to answer with (rendered as a thrown one is). */
export type RouteHandler = (exchange: Exchange) => RouteResult | Promise<RouteResult>;
// biome-ignore lint/suspicious/noConfusingVoidType: void is "answered through the exchange" (handlers that return nothing).
type RouteResult = void | OAuthError;

export interface Route {
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
 * 405 with Allow and an RFC 6749 §5.2 body; unknown paths are not ours (src/http/app.ts hands them on).
 */
export class ExactRoutes {
  private readonly routes = new Map<string, Route>();

  add(method: RouteMethod, path: string, handler: RouteHandler): this {
    if (this.routes.has(path)) throw new Error(`route ${path} is already defined`);
    // GET answers HEAD too (node:http sends the headers without the body).
    this.routes.set(path, { method, handler, allow: method === 'GET' ? 'GET, HEAD' : method });
    return this;
  }

  get(path: string): Route | undefined {
    return this.routes.get(path);
  }
}

/** Runs the route's handler, or refuses the method: 405 with Allow (RFC 9110 §15.5.6). */
export function dispatch(route: Route, exchange: Exchange): RouteResult | Promise<RouteResult> {
  const method = exchange.method;
  if (method === route.method || (route.method === 'GET' && method === 'HEAD')) return route.handler(exchange);
  exchange.set('Allow', route.allow);
  throw new InvalidRequestError(`${method} is not allowed; use ${route.method}`, 405);
}
