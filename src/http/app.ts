import { readFileSync } from 'node:fs';
import type Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import type { Logger } from 'pino';
import { InvalidRequestError } from '../domain/errors.js';
import type { Services } from '../app/services.js';
import { endpoints } from '../app/endpoints.js';
import { ExactRoutes } from './exact-routes.js';
import { formEndpoint, jsonEndpoint } from './form-endpoint.js';
import { oauthErrorRenderer } from './oauth-errors.js';
import { DEVICE_CODE_GRANT_TYPE } from '../config.js';
import { grantOutcomes, httpRequestDuration, httpRequests, metricsRegistry, pollAnswers, requestsInFlight } from '../metrics.js';
import { clientIpResolver, type ProxyTrust } from './client-ip.js';
import { requestIds } from './audit.js';

export interface AppOptions {
  readonly services: Services;
  /** The verification pages (src/ui/), mounted under /device. */
  readonly pages?: Router;
  readonly logger: Logger;
  /** Which proxies may append to X-Forwarded-For (TRUST_PROXY); `true` = 1 hop. */
  readonly trustProxy?: ProxyTrust | boolean;
  /** Operations (issue 10): readiness for /readyz, draining for Connection: close, where /metrics is. */
  readonly operations?: AppOperations;
  /** Recognises a store failure that escaped the repositories (answered 503, never 500); from server.ts. */
  readonly isStoreFailure?: (error: unknown) => boolean;
}

export interface AppOperations {
  /** Store reachable and not draining. */
  isReady(): boolean;
  /** Shutting down: every response closes its connection. */
  isDraining(): boolean;
  /** false when METRICS_PORT serves /metrics on a listener of its own. */
  readonly metricsOnMainPort: boolean;
}

const OPENAPI_DOCUMENT = new URL('../../openapi/openapi.json', import.meta.url);
const REDOC_PAGE = new URL('../../openapi/docs.html', import.meta.url);

/** The Koa app: error renderer first, then the endpoints at their exact paths, then the pages under /device. */
export function createApp({ services, pages, logger, trustProxy = false, operations, isStoreFailure }: AppOptions): Koa {
  const proxyTrust = toProxyTrust(trustProxy);
  // app.proxy only lets Koa read X-Forwarded-Proto/-Host (the scheme); the client IP is set below
  // from the right end of X-Forwarded-For, never Koa's leftmost entry.
  const app = new Koa({ proxy: proxyTrust.kind !== 'none' });
  app.silent = true; // errors are rendered and logged by oauthErrorRenderer, not printed by Koa
  const routes = new ExactRoutes();
  const knownRoutes = new Set<string>();
  const addRoute: ExactRoutes['add'] = (method, path, handler) => {
    knownRoutes.add(path);
    return routes.add(method, path, handler);
  };

  // Each endpoint's path and method come from its definition, like its contract.
  for (const endpoint of Object.values(endpoints)) {
    const { method, path } = endpoint.openapi;
    // Discovery documents are public and change only with config or key rotation: cacheable briefly.
    const handler = method === 'POST' ? formEndpoint(services, endpoint) : jsonEndpoint(services, endpoint, 'public, max-age=300');
    addRoute(method, path, handler);
  }

  // Liveness: the process answers. Readiness: the store takes writes and we are not draining.
  addRoute('GET', '/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  addRoute('GET', '/readyz', (ctx) => {
    const isReady = operations ? operations.isReady() : true;
    ctx.set('Cache-Control', 'no-store');
    ctx.status = isReady ? 200 : 503;
    ctx.body = { status: isReady ? 'ready' : operations?.isDraining() ? 'draining' : 'store_unavailable' };
  });
  if (operations?.metricsOnMainPort ?? true) addRoute('GET', '/metrics', serveMetrics);
  const openApiDocument = readFileSync(OPENAPI_DOCUMENT, 'utf8');
  addRoute('GET', '/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = openApiDocument;
  });
  const redocPage = readFileSync(REDOC_PAGE, 'utf8');
  addRoute('GET', '/docs', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = redocPage;
  });

  app.use(requestIds);
  app.use(observeRequests(clientIpResolver(proxyTrust), knownRoutes, operations));
  app.use(oauthErrorRenderer(logger, isStoreFailure));
  app.use(baseSecurityHeaders);
  app.use(routes.middleware());
  if (pages) {
    // Only /device… requests reach the pages' router.
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

/** Prometheus text format (prom-client's registry of src/metrics.ts). */
export async function serveMetrics(ctx: Context): Promise<void> {
  ctx.set('Cache-Control', 'no-store');
  ctx.type = metricsRegistry.contentType;
  ctx.body = await metricsRegistry.metrics();
}

const METHOD_LABELS = new Set(['GET', 'POST', 'HEAD']);
const TOKEN_PATH = endpoints.token.openapi.path;
const DEVICE_AUTHORIZATION_PATH = endpoints.deviceAuthorization.openapi.path;

/**
 * First middleware: the client IP (TRUST_PROXY rule), `Connection: close` while draining, and the
 * request metrics. Route labels are the matched route, never the raw path (bounded cardinality).
 */
function observeRequests(
  resolveClientIp: ReturnType<typeof clientIpResolver>,
  knownRoutes: ReadonlySet<string>,
  operations: AppOperations | undefined,
) {
  return async function observe(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    ctx.request.ip = resolveClientIp(ctx.req.socket.remoteAddress ?? '', ctx.get('x-forwarded-for') || undefined);
    requestsInFlight.inc();
    try {
      await next();
    } finally {
      requestsInFlight.dec();
      // Draining (checked when the answer is ready, so requests that began before SIGTERM count too):
      // RFC 9112 §9.6, tell the keep-alive client this connection ends with this response.
      if (operations?.isDraining() && !ctx.headerSent) ctx.set('Connection', 'close');
      const route = knownRoutes.has(ctx.path) ? ctx.path : String((ctx as { _matchedRoute?: unknown })._matchedRoute ?? 'unmatched');
      const method = METHOD_LABELS.has(ctx.method) ? ctx.method : 'other';
      requestSeries(route, method, ctx.status).observe(performance.now() - started);
      if (ctx.path === TOKEN_PATH && ctx.state.grantType === DEVICE_CODE_GRANT_TYPE) countPoll(ctx);
      if (ctx.path === DEVICE_AUTHORIZATION_PATH && ctx.status === 200) grantOutcomes.inc({ outcome: 'issued' });
    }
  };
}

/**
 * The counter and histogram children of one (route, method, status), looked up once: prom-client
 * hashes the label object on every inc()/observe(), which a poll would otherwise pay twice. Bounded:
 * routes and methods are fixed sets, statuses a few dozen.
 */
const seriesCache = new Map<string, { observe(ms: number): void }>();
function requestSeries(route: string, method: string, status: number): { observe(ms: number): void } {
  const key = `${route} ${method} ${status}`;
  let series = seriesCache.get(key);
  if (series === undefined) {
    const count = httpRequests.labels(route, method, String(status));
    const duration = httpRequestDuration.labels(route, method);
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
function countPoll(ctx: Context): void {
  const answer = ctx.status === 200 ? 'token' : (ctx.state.oauthError as string | undefined) ?? 'other';
  pollAnswers.inc({ answer });
  if (answer === 'token') grantOutcomes.inc({ outcome: 'redeemed' });
  else if (answer === 'expired_token') grantOutcomes.inc({ outcome: 'expired' });
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
