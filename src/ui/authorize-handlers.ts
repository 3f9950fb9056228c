import type { Context } from 'koa';
import {
  type AuthorizationEndpointDeps,
  type AuthorizationParams,
  type AuthorizationRequestCheck,
  authorizationResponseUri,
  checkAuthorizationRequest,
  isPendingAuthorizationCurrent,
  issueAuthorizationCode,
} from '../domain/authorization-request.js';
import { ClientMetadataError, isClientMetadataDocumentId } from '../domain/client-metadata-document.js';
import type { FailedAuthenticationLimiter } from '../domain/clients.js';
import type { ConfigFile } from '../config.js';
import type { AuditLog } from '../http/audit.js';
import { readForm } from '../http/form.js';
import { authorizationOutcomes } from '../metrics.js';
import { authorizationConfirmationPage, authorizationErrorPage } from './pages.js';
import { describeScopes } from './scopes.js';
import type { verificationHandlers } from './verification-handlers.js';

export interface AuthorizeDeps {
  readonly endpoint: AuthorizationEndpointDeps;
  /**
   * Authorization requests naming a Client ID Metadata Document, per client IP and per document URL:
   * each unknown URL makes the server fetch it, so a flood must not turn it into a fetching proxy.
   * The same budget as device authorization requests (config `rate_limits.device_authorization`).
   */
  readonly documentRequestLimiter?: FailedAuthenticationLimiter | undefined;
  readonly settings: ConfigFile['verification'];
  readonly audit?: AuditLog | undefined;
}

type PageKit = ReturnType<typeof verificationHandlers>['kit'];
type PageHandler = (ctx: Context) => Promise<void>;

/**
 * The authorization endpoint's person-facing side (RFC 6749 §4.1, OAuth 2.1, RFC 9207), on the
 * verification pages' sign-in, session, CSRF and confirmation:
 *
 *   GET|POST /oauth/authorize  → checked; errors shown (untrusted redirect) or sent back (trusted);
 *                                 a valid request moves under /device, where the session cookie lives
 *   GET /device/authorize       → checked again with the session, kept in it → sign-in → confirm
 *   GET|POST /device/authorize/confirm → Approve: code + state + iss; Deny: access_denied + state + iss
 */
export function authorizeHandlers(deps: AuthorizeDeps, kit: PageKit) {
  const { endpoint } = deps;

  /** /oauth/authorize (GET query or POST form, OAuth 2.1 §4.1.1). No session here: the cookie's Path is /device. */
  const entry: PageHandler = async (ctx) => {
    const params = ctx.method === 'POST' ? await readForm(ctx.req) : queryParams(ctx);
    const clientId = params.get('client_id')?.[0];
    if (clientId && isClientMetadataDocumentId(clientId) && deps.documentRequestLimiter) {
      const attempt = await deps.documentRequestLimiter.attempt(ctx.ip, clientId.slice(0, 300));
      if (!attempt.allowed) {
        deps.audit?.forRequest(ctx)('lockout', { limiter: 'authorization_request', client_id: clientId, retry_after: attempt.retryAfterSeconds });
        ctx.set('Retry-After', String(attempt.retryAfterSeconds));
        ctx.status = 429;
        ctx.type = 'text/html; charset=utf-8';
        ctx.body = authorizationErrorPage(
          { csrf: '', signedInAs: null },
          'temporarily_unavailable',
          `Too many sign-in requests from here; try again in ${attempt.retryAfterSeconds} seconds.`,
        ).value;
        return;
      }
    }
    const check = await checkAuthorizationRequest(endpoint, params);
    if (check.kind !== 'valid') return answerInvalid(ctx, check, null);
    // The same parameters, now where the session cookie is sent; checked again there (cached clients make it cheap).
    const query = new URLSearchParams();
    for (const [name, values] of params) for (const value of values) query.append(name, value);
    ctx.status = 303;
    ctx.redirect(`/device/authorize?${query}`);
  };

  const begin: PageHandler = async (ctx) => {
    const state = await kit.pageState(ctx);
    const check = await checkAuthorizationRequest(endpoint, queryParams(ctx));
    if (check.kind !== 'valid') return answerInvalid(ctx, check, state);
    state.session = { ...state.session, authorization: check.request };
    kit.redirect(ctx, state, state.subject ? '/device/authorize/confirm' : '/device/sign-in');
  };

  const confirmation: PageHandler = async (ctx) => {
    const state = await kit.pageState(ctx);
    if (!state.subject) return kit.redirect(ctx, state, '/device/sign-in');
    const pending = currentPending(state);
    if (!pending) return expired(ctx, state);
    let client: Awaited<ReturnType<AuthorizationEndpointDeps['clients']['resolve']>>;
    try {
      client = await endpoint.clients.resolve(pending.clientId);
    } catch (error) {
      if (!(error instanceof ClientMetadataError)) throw error;
      state.session = { ...state.session, authorization: null };
      return kit.render(ctx, state, 400, authorizationErrorPage(kit.frame(state), 'invalid_client', error.message));
    }
    if (!client) return expired(ctx, state);
    allowFormRedirectTo(ctx, pending.redirectUri);
    kit.render(
      ctx,
      state,
      200,
      authorizationConfirmationPage(kit.frame(state), {
        clientName: client.client_name ?? client.client_id,
        clientId: client.client_id,
        documentHost: client.metadataDocument?.host ?? null,
        scopes: describeScopes(pending.scope, deps.settings.scope_descriptions),
        resources: pending.resource,
        redirectTarget: redirectTarget(pending.redirectUri),
      }),
    );
  };

  const decide: PageHandler = async (ctx) => {
    const { state, form } = await kit.postedForm(ctx);
    if (!state.subject) return kit.redirect(ctx, state, '/device/sign-in');
    const pending = currentPending(state);
    if (!pending) return expired(ctx, state);
    const decision = form.get('decision');
    if (decision !== 'approve' && decision !== 'deny') {
      return kit.render(ctx, state, 400, authorizationErrorPage(kit.frame(state), 'invalid_request', 'Choose Approve or Deny.'));
    }
    const subject = state.subject;
    // Decided once: the request leaves the session before the browser is sent back.
    state.session = { ...state.session, authorization: null };
    const audit = deps.audit?.forRequest(ctx);
    if (decision === 'deny') {
      authorizationOutcomes.inc({ outcome: 'denied' });
      audit?.('denied', { client_id: pending.clientId, subject, flow: 'authorization_code' });
      return kit.redirect(
        ctx,
        state,
        authorizationResponseUri(endpoint.issuer, pending.redirectUri, {
          error: 'access_denied',
          error_description: 'the person denied the request',
          state: pending.state,
        }),
      );
    }
    const code = await issueAuthorizationCode(endpoint, pending, subject);
    authorizationOutcomes.inc({ outcome: 'approved' });
    audit?.('approved', { client_id: pending.clientId, subject, flow: 'authorization_code', scope: pending.scope.join(' ') });
    kit.redirect(ctx, state, authorizationResponseUri(endpoint.issuer, pending.redirectUri, { code, state: pending.state }));
  };

  return { entry, begin, confirmation, decide };

  function currentPending(state: { session: { authorization?: import('../domain/authorization-request.js').PendingAuthorization | null } }) {
    const pending = state.session.authorization;
    return pending && isPendingAuthorizationCurrent(pending, endpoint.clock.now()) ? pending : null;
  }

  function expired(ctx: Context, state: Parameters<PageKit['render']>[1]): void {
    state.session = { ...state.session, authorization: null };
    kit.render(
      ctx,
      state,
      400,
      authorizationErrorPage(kit.frame(state), 'invalid_request', 'There is no sign-in request waiting, or it has expired. Start again from the application.'),
    );
  }

  /** RFC 6749 §4.1.2.1: untrusted client or redirect URI → the page; otherwise back to the client. */
  function answerInvalid(
    ctx: Context,
    check: Exclude<AuthorizationRequestCheck, { kind: 'valid' }>,
    state: Parameters<PageKit['render']>[1] | null,
  ): void {
    authorizationOutcomes.inc({ outcome: check.kind === 'show_error' ? 'refused_shown' : 'refused_redirected' });
    if (check.kind === 'redirect_error') {
      ctx.status = 303;
      ctx.redirect(
        authorizationResponseUri(endpoint.issuer, check.redirectUri, {
          error: check.error,
          error_description: check.description,
          state: check.state,
        }),
      );
      return;
    }
    const status = check.error === 'invalid_client' ? 401 : 400;
    if (state) {
      kit.render(ctx, state, status, authorizationErrorPage(kit.frame(state), check.error, check.description));
      return;
    }
    // At /oauth/authorize no session cookie arrives: write none (it would replace the person's).
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = authorizationErrorPage({ csrf: '', signedInAs: null }, check.error, check.description).value;
  }
}

/**
 * CSP `form-action` also governs where a form submission may be redirected (browsers enforce it on the
 * redirect chain), and Approve/Deny end in a redirect to the client: the confirmation page allows that
 * one origin (or the native app's scheme), nothing else.
 */
function allowFormRedirectTo(ctx: Context, redirectUri: string): void {
  const url = new URL(redirectUri);
  const source = url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : url.protocol;
  const policy = ctx.response.get('Content-Security-Policy');
  if (typeof policy === 'string' && /^[A-Za-z0-9+.:/[\]-]+$/.test(source)) {
    ctx.set('Content-Security-Policy', policy.replace("form-action 'self'", `form-action 'self' ${source}`));
  }
}

function queryParams(ctx: Context): AuthorizationParams {
  const params = new Map<string, string[]>();
  // RFC 6749 §3.1: parameters sent without a value are treated as omitted.
  for (const [name, value] of new URLSearchParams(ctx.querystring)) {
    if (value === '') continue;
    params.set(name, [...(params.get(name) ?? []), value]);
  }
  return params;
}

/** What the person is told the browser returns to: a web origin, a loopback port, or a native app's scheme. */
function redirectTarget(redirectUri: string): string {
  const url = new URL(redirectUri);
  return url.protocol === 'https:' || url.protocol === 'http:' ? url.host : `${url.protocol}//${url.host}`;
}
