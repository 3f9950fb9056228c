import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import parseUrl from 'parseurl';
import type { Logger } from 'pino';
import { InvalidRequestError } from '../domain/errors.js';
import type { Services } from '../app/services.js';
import { endpoints } from '../app/endpoints.js';
import { dispatch, ExactRoutes, type Route } from './exact-routes.js';
import { Exchange } from './exchange.js';
import { formEndpoint, jsonEndpoint } from './form-endpoint.js';
import { JSON_CONTENT_TYPE } from './json-body.js';
import { oauthErrorAnswer, oauthErrorRenderer, type StoreFailureTest } from './oauth-errors.js';
import { DEVICE_CODE_GRANT_TYPE } from '../config.js';
import { grantOutcomeCount, httpRequestCount, httpRequestDuration, metricsRegistry, pollAnswerCount, requestsInFlight } from '../metrics.js';
import { clientIpResolver, type ProxyTrust } from './client-ip.js';
import { requestIdFor, requestIds } from './audit.js';

export interface AppOptions {
  readonly services: Services;
  /** The verification pages (src/ui/), mounted under /device and at /oauth/authorize. */
  readonly pages?: Router;
  readonly logger: Logger;
  /** Which proxies may append to X-Forwarded-For (TRUST_PROXY); `true` = 1 hop. */
  readonly trustProxy?: ProxyTrust | boolean;
  /** Operations (issue 10): readiness for /readyz, draining for Connection: close, where /metrics is. */
  readonly operations?: AppOperations;
  /** Recognises a store failure that escaped the repositories (answered 503, never 500); from server.ts. */
  readonly isStoreFailure?: StoreFailureTest;
}

export interface AppOperations {
  /** Store reachable and not draining. */
  isReady(): boolean;
  /** Shutting down: every response closes its connection. */
  isDraining(): boolean;
  /** false when METRICS_PORT serves /metrics on a listener of its own. */
  readonly metricsOnMainPort: boolean;
}

/** What node:http calls for each request. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

const OPENAPI_DOCUMENT = new URL('../../openapi/openapi.json', import.meta.url);
const REDOC_PAGE = new URL('../../openapi/docs.html', import.meta.url);

/**
 * The HTTP front: requests to an exact route (the OAuth endpoints, discovery, health, metrics,
 * documents) are served on node:http directly (src/http/exchange.ts says why); every other request
 * goes to the Koa app of the pages, which answers 404 for what is not a page. Both sides resolve the
 * client IP, the request id, the metrics and the errors with the same functions.
 */
export function createApp({ services, pages, logger, trustProxy = false, operations, isStoreFailure = () => false }: AppOptions): RequestListener {
  const proxyTrust = toProxyTrust(trustProxy);
  const resolveClientIp = clientIpResolver(proxyTrust);
  const routes = exactRoutes(services, operations);
  const servePage = pagesApp({ pages, logger, proxyTrust, resolveClientIp, operations, isStoreFailure }).callback();

  const serveRoute = async (route: Route, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const exchange = new Exchange(
      req,
      res,
      path,
      resolveClientIp(req.socket.remoteAddress ?? '', headerOf(req, 'x-forwarded-for')),
      requestIdFor(headerOf(req, 'x-request-id')),
    );
    exchange.set('X-Request-Id', exchange.requestId);
    exchange.set('X-Content-Type-Options', 'nosniff');
    requestsInFlight.inc();
    let refused = false;
    let refusal: unknown;
    try {
      refusal = await dispatch(route, exchange);
      refused = refusal !== undefined;
    } catch (thrown) {
      refused = true;
      refusal = thrown;
    } finally {
      requestsInFlight.dec();
    }
    // Thrown or returned (an ordinary outcome such as a pending poll): the same answer.
    if (refused) {
      const answer = oauthErrorAnswer(refusal, logger, path, isStoreFailure);
      exchange.oauthError = answer.error.error;
      exchange.status = answer.status;
      for (const name in answer.headers) exchange.set(name, answer.headers[name]!);
      exchange.noStore();
      exchange.json(answer.body);
    }
    // Draining (checked when the answer is ready, so requests that began before SIGTERM count too):
    // RFC 9112 §9.6, tell the keep-alive client this connection ends with this response.
    if (operations?.isDraining()) exchange.set('Connection', 'close');
    exchange.send();
    requestSeries(path, req.method, exchange.status).observe(performance.now() - started);
    if (path === TOKEN_PATH && exchange.grantType === DEVICE_CODE_GRANT_TYPE) countPoll(exchange.status, exchange.oauthError);
    else if (path === DEVICE_AUTHORIZATION_PATH && exchange.status === 200) grantOutcomeCount.issued.inc();
  };

  return function handleRequest(req, res) {
    const path = parseUrl(req)?.pathname ?? '';
    const route = routes.get(path);
    if (route === undefined) {
      void servePage(req, res);
      return;
    }
    serveRoute(route, path, req, res).catch((error: unknown) => {
      // Only a failure to write the answer gets here (the handler's errors are rendered above).
      logger.error({ err: error, path }, 'could not answer');
      res.destroy();
    });
  };
}

/** Each endpoint at the path and method its definition gives, like its contract; then the service's own. */
function exactRoutes(services: Services, operations: AppOperations | undefined): ExactRoutes {
  const routes = new ExactRoutes();
  for (const endpoint of Object.values(endpoints)) {
    const { method, path } = endpoint.openapi;
    // Discovery documents are public and change only with config or key rotation: cacheable briefly.
    const handler = method === 'POST' ? formEndpoint(services, endpoint) : jsonEndpoint(services, endpoint, 'public, max-age=300');
    routes.add(method, path, handler);
  }

  // Liveness: the process answers. Readiness: the store takes writes and we are not draining.
  routes.add('GET', '/healthz', (exchange) => {
    exchange.set('Cache-Control', 'no-store');
    exchange.json({ status: 'ok' });
  });
  routes.add('GET', '/readyz', (exchange) => {
    const isReady = operations ? operations.isReady() : true;
    exchange.set('Cache-Control', 'no-store');
    exchange.status = isReady ? 200 : 503;
    exchange.json({ status: isReady ? 'ready' : operations?.isDraining() ? 'draining' : 'store_unavailable' });
  });
  if (operations?.metricsOnMainPort ?? true) routes.add('GET', '/metrics', serveMetrics);
  const openApiDocument = readFileSync(OPENAPI_DOCUMENT, 'utf8');
  routes.add('GET', '/openapi.json', (exchange) => {
    exchange.set('Content-Type', JSON_CONTENT_TYPE);
    exchange.body = openApiDocument;
  });
  const redocPage = readFileSync(REDOC_PAGE, 'utf8');
  routes.add('GET', '/docs', (exchange) => {
    exchange.set('Content-Type', 'text/html; charset=utf-8');
    exchange.body = redocPage;
  });
  return routes;
}

interface PagesAppOptions {
  readonly pages: Router | undefined;
  readonly logger: Logger;
  readonly proxyTrust: ProxyTrust;
  readonly resolveClientIp: ReturnType<typeof clientIpResolver>;
  readonly operations: AppOperations | undefined;
  readonly isStoreFailure: StoreFailureTest;
}

/** The Koa app: request ids, metrics, the error renderer, then the pages; anything else is 404. */
function pagesApp({ pages, logger, proxyTrust, resolveClientIp, operations, isStoreFailure }: PagesAppOptions): Koa {
  // app.proxy only lets Koa read X-Forwarded-Proto/-Host (the scheme); the client IP is set below
  // from the right end of X-Forwarded-For, never Koa's leftmost entry.
  const app = new Koa({ proxy: proxyTrust.kind !== 'none' });
  app.silent = true; // errors are rendered and logged by oauthErrorRenderer, not printed by Koa
  app.use(requestIds);
  app.use(observePageRequests(resolveClientIp, operations));
  app.use(oauthErrorRenderer(logger, isStoreFailure));
  app.use(baseSecurityHeaders);
  if (pages) {
    // Only /device… and /oauth/authorize requests reach the pages' router.
    const pageRoutes = pages.routes();
    app.use((ctx, next) => {
      const isPage = ctx.path === '/device' || ctx.path.startsWith('/device/') || ctx.path === '/oauth/authorize';
      return isPage ? pageRoutes(ctx as Parameters<typeof pageRoutes>[0], next) : next();
    });
  }
  app.use(notFound);
  return app;
}

function toProxyTrust(trust: ProxyTrust | boolean): ProxyTrust {
  if (trust === true) return { kind: 'hops', hops: 1 };
  if (trust === false) return { kind: 'none' };
  return trust;
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Prometheus text format (prom-client's registry of src/metrics.ts). */
async function serveMetrics(exchange: Exchange): Promise<void> {
  exchange.set('Cache-Control', 'no-store');
  exchange.set('Content-Type', metricsRegistry.contentType);
  exchange.body = await metricsRegistry.metrics();
}

const METHOD_LABELS = new Set(['GET', 'POST', 'HEAD']);
const TOKEN_PATH = endpoints.token.openapi.path;
const DEVICE_AUTHORIZATION_PATH = endpoints.deviceAuthorization.openapi.path;

/**
 * The pages' first middleware after request ids: the client IP (TRUST_PROXY rule), `Connection:
 * close` while draining, and the request metrics. Route labels are the matched route, never the raw
 * path (bounded cardinality).
 */
function observePageRequests(resolveClientIp: ReturnType<typeof clientIpResolver>, operations: AppOperations | undefined) {
  return async function observe(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    ctx.request.ip = resolveClientIp(ctx.req.socket.remoteAddress ?? '', ctx.get('x-forwarded-for') || undefined);
    requestsInFlight.inc();
    try {
      await next();
    } finally {
      requestsInFlight.dec();
      // RFC 9112 §9.6, as for the exact routes.
      if (operations?.isDraining() && !ctx.headerSent) ctx.set('Connection', 'close');
      const route = String((ctx as { _matchedRoute?: unknown })._matchedRoute ?? 'unmatched');
      requestSeries(route, ctx.method, ctx.status).observe(performance.now() - started);
    }
  };
}

/**
 * The request counter's series (counted in a plain number until the scrape: src/metrics.ts) and the
 * histogram child of one (route, method, status), looked up once. Bounded: routes and methods are
 * fixed sets, statuses a few dozen.
 */
const seriesCache = new Map<string, { observe(ms: number): void }>();
function requestSeries(route: string, requestMethod: string | undefined, status: number): { observe(ms: number): void } {
  const method = requestMethod !== undefined && METHOD_LABELS.has(requestMethod) ? requestMethod : 'other';
  const key = `${route} ${method} ${status}`;
  let series = seriesCache.get(key);
  if (series === undefined) {
    const count = httpRequestCount(route, method, String(status));
    const duration = httpRequestDuration.series({ route, method });
    series = {
      observe: (ms) => {
        count.inc();
        duration.observe(ms / 1000);
      },
    };
    seriesCache.set(key, series);
  }
  return series;
}

/** RFC 8628 §3.5 answers to a device-code poll, and the grant outcomes a poll reveals. */
function countPoll(status: number, oauthError: string | undefined): void {
  const answer = status === 200 ? 'token' : (oauthError ?? 'other');
  pollAnswerCount(answer).inc();
  if (answer === 'token') grantOutcomeCount.redeemed.inc();
  else if (answer === 'expired_token') grantOutcomeCount.expired.inc();
}

// Not async: it passes next()'s promise on, so it adds no await to every request.
function baseSecurityHeaders(ctx: Context, next: Next): Promise<void> {
  ctx.set('X-Content-Type-Options', 'nosniff');
  return next();
}

function notFound(ctx: Context): void {
  if (ctx.status !== 404 || ctx.body !== undefined) return;
  throw new InvalidRequestError(`no endpoint at ${ctx.method} ${ctx.path}`, 404);
}
