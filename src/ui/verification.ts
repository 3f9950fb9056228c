import Router from '@koa/router';
import { type AuthorizeDeps, authorizeHandlers } from './authorize-handlers.js';
import { type VerificationDeps, verificationHandlers } from './verification-handlers.js';

export type { VerificationDeps } from './verification-handlers.js';

/** The verification pages' route table (RFC 8628 §3.3); the handlers are in verification-handlers.ts. */
export function verificationRoutes(deps: VerificationDeps, authorize?: AuthorizeDeps): Router {
  // Case-sensitive like the cookie's Path=/device: @koa/router matches routes case-insensitively by
  // default but its router.use() middleware (the security headers below) case-sensitively, so
  // /DEVICE would otherwise render the pages without CSP, frame-ancestors or no-store.
  const router = new Router({ prefix: '/device', sensitive: true });
  const pages = verificationHandlers(deps);

  router.use(pages.errors); // security headers on every page, errors as pages
  router.get('/style.css', pages.stylesheet);
  router.get('/', pages.showCodeEntry);
  router.post('/', pages.enterCode);
  router.get('/sign-in', pages.signInForm);
  router.post('/sign-in', pages.signIn);
  router.get('/confirm', pages.confirmation);
  router.post('/confirm', pages.decide);
  router.post('/sign-out', pages.signOut);
  if (!authorize) return router;

  // The authorization code flow (RFC 6749 §4.1): its entry at /oauth/authorize, its pages under /device.
  const flow = authorizeHandlers(authorize, pages.kit);
  router.get('/authorize', flow.begin);
  router.get('/authorize/confirm', flow.confirmation);
  router.post('/authorize/confirm', flow.decide);
  const entry = new Router({ sensitive: true });
  entry.use(pages.errors);
  entry.get('/oauth/authorize', flow.entry);
  entry.post('/oauth/authorize', flow.entry);
  const all = new Router();
  all.use(router.routes());
  all.use(entry.routes());
  return all;
}
