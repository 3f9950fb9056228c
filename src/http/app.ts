import { readFileSync } from 'node:fs';
import Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import type { Logger } from 'pino';
import { InvalidRequestError } from '../domain/errors.js';
import type { Services } from '../trpc/trpc.js';
import { endpoints } from '../trpc/endpoints.js';
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

/** The Koa app: error renderer first, then the pages under /device, then the endpoints at their own method. */
export function createApp({ services, pages, logger, trustProxy = false }: AppOptions): Koa {
  const app = new Koa({ proxy: trustProxy });
  app.silent = true; // errors are rendered and logged by oauthErrorRenderer, not printed by Koa
  const router = new Router();

  // Each endpoint's path and method come from its definition, like its contract.
  for (const endpoint of Object.values(endpoints)) {
    const { method, path } = endpoint.openapi;
    // Discovery documents are public and change only with config or key rotation: cacheable briefly.
    const handler = method === 'POST' ? formEndpoint(services, endpoint) : jsonEndpoint(services, endpoint, 'public, max-age=300');
    only(method, router, path, handler);
  }

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  const openApiDocument = readFileSync(OPENAPI_DOCUMENT, 'utf8');
  router.get('/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = openApiDocument;
  });
  const redocPage = readFileSync(REDOC_PAGE, 'utf8');
  router.get('/docs', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = redocPage;
  });

  app.use(oauthErrorRenderer(logger));
  app.use(baseSecurityHeaders);
  if (pages) {
    // Only /device… requests reach the pages' router: the OAuth endpoints skip its matching.
    const pageRoutes = pages.routes();
    app.use((ctx, next) => {
      const isPage = ctx.path === '/device' || ctx.path.startsWith('/device/');
      return isPage ? pageRoutes(ctx as Parameters<typeof pageRoutes>[0], next) : next();
    });
  }
  app.use(router.routes());
  app.use(notFound);
  return app;
}

/** Any other method on an endpoint: 405 with Allow and an RFC 6749 §5.2 body. */
function only(method: 'GET' | 'POST', router: Router, path: string, handler: (ctx: Context) => Promise<void>): void {
  router.register(path, method === 'GET' ? ['GET', 'HEAD'] : [method], handler);
  router.all(path, (ctx) => {
    if (ctx.method === method || (method === 'GET' && ctx.method === 'HEAD')) return;
    ctx.set('Allow', method === 'GET' ? 'GET, HEAD' : method);
    throw new InvalidRequestError(`${ctx.method} is not allowed; use ${method}`, 405);
  });
}

async function baseSecurityHeaders(ctx: Context, next: Next): Promise<void> {
  ctx.set('X-Content-Type-Options', 'nosniff');
  await next();
}

function notFound(ctx: Context): void {
  if (ctx.status !== 404 || ctx.body !== undefined) return;
  throw new InvalidRequestError(`no endpoint at ${ctx.method} ${ctx.path}`, 404);
}
