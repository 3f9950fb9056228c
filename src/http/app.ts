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

export interface AppOptions {
  readonly services: Services;
  /** The verification pages (src/ui/), mounted under /device. */
  readonly pages?: Router;
  readonly logger: Logger;
  /** Trust X-Forwarded-* (only behind a reverse proxy that sets them). */
  readonly trustProxy?: boolean;
}

const OPENAPI_DOCUMENT = new URL('../../openapi/openapi.json', import.meta.url);
const REDOC_PAGE = new URL('../../openapi/docs.html', import.meta.url);

/** The Koa app: error renderer first, then the endpoints at their exact paths, then the pages under /device. */
export function createApp({ services, pages, logger, trustProxy = false }: AppOptions): Koa {
  const app = new Koa({ proxy: trustProxy });
  app.silent = true; // errors are rendered and logged by oauthErrorRenderer, not printed by Koa
  const routes = new ExactRoutes();

  // Each endpoint's path and method come from its definition, like its contract.
  for (const endpoint of Object.values(endpoints)) {
    const { method, path } = endpoint.openapi;
    // Discovery documents are public and change only with config or key rotation: cacheable briefly.
    const handler = method === 'POST' ? formEndpoint(services, endpoint) : jsonEndpoint(services, endpoint, 'public, max-age=300');
    routes.add(method, path, handler);
  }

  routes.add('GET', '/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  const openApiDocument = readFileSync(OPENAPI_DOCUMENT, 'utf8');
  routes.add('GET', '/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = openApiDocument;
  });
  const redocPage = readFileSync(REDOC_PAGE, 'utf8');
  routes.add('GET', '/docs', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = redocPage;
  });

  app.use(oauthErrorRenderer(logger));
  app.use(baseSecurityHeaders);
  app.use(routes.middleware());
  if (pages) {
    // Only /device… requests reach the pages' router.
    const pageRoutes = pages.routes();
    app.use((ctx, next) => {
      const isPage = ctx.path === '/device' || ctx.path.startsWith('/device/');
      return isPage ? pageRoutes(ctx as Parameters<typeof pageRoutes>[0], next) : next();
    });
  }
  app.use(notFound);
  return app;
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
