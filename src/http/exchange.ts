import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { JSON_CONTENT_TYPE } from './json-body.js';
import { NO_STORE_HEADERS } from './oauth-errors.js';

/**
 * One request to an exact route (the OAuth endpoints, discovery, health, metrics, documents) and the
 * answer being built for it, on node:http without a framework: what the handlers read of the request
 * (path, headers, client IP, request id) and what they set (status, headers, body). Written at once by
 * `send()`: one `writeHead` + `end`, so headers and body leave in one socket write.
 *
 * Why not Koa here: a poll is a Map lookup, a form body, one Redis call and a small JSON answer; on
 * this path Koa's context, delegates and middleware chain cost more than everything else we add
 * (README, "Benchmark"). The pages (src/ui/) stay on Koa.
 */
export class Exchange {
  status = 200;
  body = '';
  /** Response headers, in the order they were set. */
  readonly headers: OutgoingHttpHeaders = {};
  /** For the poll metrics: the token request's grant_type and the OAuth error answered, if any. */
  grantType: unknown;
  oauthError: string | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    /** The request path without its query (parseurl, as Koa's ctx.path). */
    readonly path: string,
    /** The client's address under the TRUST_PROXY rule (src/http/client-ip.ts). */
    readonly ip: string,
    readonly requestId: string,
  ) {}

  get method(): string {
    return this.req.method ?? 'GET';
  }

  /** A request header by its lower-case name; repeated headers joined as Node joins them. */
  header(name: string): string | undefined {
    const value = this.req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  set(name: string, value: string): void {
    this.headers[name] = value;
  }

  /** RFC 6749 §5.1, §5.2: application/json, UTF-8; serialised here, once. */
  json(value: unknown): void {
    this.headers['Content-Type'] = JSON_CONTENT_TYPE;
    this.body = JSON.stringify(value);
  }

  /** RFC 6749 §5.1: token and error responses must not be cached. */
  noStore(): void {
    Object.assign(this.headers, NO_STORE_HEADERS);
  }

  /** Writes the answer (a HEAD request gets the headers only: node:http drops the body). */
  send(): void {
    if (this.res.headersSent || this.res.destroyed) return;
    this.headers['Content-Length'] = Buffer.byteLength(this.body);
    this.res.writeHead(this.status, this.headers);
    this.res.end(this.body);
  }
}
