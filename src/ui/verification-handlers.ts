import { readFileSync } from 'node:fs';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import type { ConfigFile } from '../config.js';
import type { ClientRegistry, ResolvedClient } from '../domain/clients.js';
import type { Clock } from '../domain/clock.js';
import { formatUserCode, normaliseUserCode } from '../domain/codes.js';
import { InvalidRequestError, TemporarilyUnavailableError } from '../domain/errors.js';
import type { UserDirectory } from '../domain/users.js';
import { readForm } from '../http/form.js';
import type { DeviceGrant } from '../domain/device-grant.js';
import type { DeviceGrantRepository } from '../domain/grant-repository.js';
import { isDecidable } from '../domain/poll-policy.js';
import { grantOutcomes } from '../metrics.js';
import type { Html } from './html.js';
import type { FailedAttemptLimiter } from './limiter.js';
import { codeEntryPage, confirmationPage, type Outcome, outcomePage, type PageFrame, signInPage } from './pages.js';
import { describeScopes } from './scopes.js';
import type { Session, SessionCookies } from './session.js';
import type { SessionRevocations } from './session-revocations.js';
import type { AuditLog } from '../http/audit.js';
import { grantReference } from '../domain/audit.js';

export interface VerificationDeps {
  readonly grants: DeviceGrantRepository;
  readonly clients: ClientRegistry;
  readonly users: UserDirectory;
  readonly sessions: SessionCookies;
  readonly codeEntryLimiter: FailedAttemptLimiter;
  readonly signInLimiter: FailedAttemptLimiter;
  readonly settings: ConfigFile['verification'];
  readonly clock: Clock;
  readonly logger: Logger;
  /** True for a store failure that escaped the repositories (shown as the 503 page, never a 500). */
  readonly isStoreFailure: (error: unknown) => boolean;
  /** Sign-out everywhere (Redis) or in this process (memory); absent: sign-out clears this browser's cookie only. */
  readonly sessionRevocations?: SessionRevocations;
  readonly audit?: AuditLog;
}

const STYLESHEET = readFileSync(new URL('./style.css', import.meta.url), 'utf8');

/**
 * RFC 8628 §5.4 and §5.1: pages with no script at all, so the CSP can forbid every inline and
 * foreign resource; nothing here may be framed (clickjacking an Approve button) or cached (CSRF
 * tokens), and no URL with a user code leaks through Referer.
 */
const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** One route's handler; the route table (verification.ts) mounts it. */
type PageHandler = (ctx: Context) => Promise<void> | void;

/** Per request: the session as it arrived, with the signed-in subject (cookie or trusted header). */
export interface PageState {
  session: Session;
  subject: string | null;
}

/**
 * The person's side of the flow: enter the code → sign in → confirm → approve or deny. A code from
 * `verification_uri_complete` only pre-fills the form: nothing is approved without the person's click.
 * The handlers, one per route; verification.ts is the route table that mounts them.
 */
export function verificationHandlers(deps: VerificationDeps) {
  const { sessions, settings } = deps;

  const stylesheet: PageHandler = (ctx) => {
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = STYLESHEET;
  };

  const showCodeEntry: PageHandler = async (ctx) => {
    const state = await pageState(ctx);
    const typed = typeof ctx.query.user_code === 'string' ? ctx.query.user_code : undefined;
    const normalised = typed ? normaliseUserCode(typed) : null;
    const prefill = normalised ? formatUserCode(normalised) : typed?.slice(0, 32);
    render(ctx, state, 200, codeEntryPage(frame(state), { prefill }));
  };

  const enterCode: PageHandler = async (ctx) => {
    const { state, form } = await postedForm(ctx);
    const attempt = await deps.codeEntryLimiter.attempt(ctx.ip, state.subject);
    if (!attempt.allowed) return rateLimited(ctx, state, attempt.retryAfterSeconds, 'code_entry');
    const typed = form.get('user_code') ?? '';
    const userCode = normaliseUserCode(typed);
    if (!userCode) {
      // A typo, not a guess: nothing is looked up, so nothing is counted.
      await attempt.notAFailure();
      const message = 'A code has 8 letters and digits, like WDJB-MJHT. Check it and try again.';
      return render(ctx, state, 400, codeEntryPage(frame(state), { prefill: typed.slice(0, 32), message }));
    }
    const grant = await deps.grants.findByUserCode(userCode);
    if (isDecidable(grant, deps.clock.now())) await attempt.notAFailure();
    else {
      // One message for unknown, expired and used codes: no oracle (RFC 8628 §5.1). The point stays taken.
      const message = 'That code is not valid or has expired. Check it, or start again on your device.';
      return render(ctx, state, 400, codeEntryPage(frame(state), { prefill: formatUserCode(userCode), message }));
    }
    state.session = { ...state.session, userCode };
    redirect(ctx, state, state.subject ? '/device/confirm' : '/device/sign-in');
  };

  const signInForm: PageHandler = async (ctx) => {
    const state = await pageState(ctx);
    if (state.subject) return redirect(ctx, state, afterSignIn(state.session));
    render(ctx, state, 200, signInPage(frame(state), {}));
  };

  const signIn: PageHandler = async (ctx) => {
    const { state, form } = await postedForm(ctx);
    const username = (form.get('username') ?? '').slice(0, 128);
    const password = form.get('password') ?? '';
    const attempt = await deps.signInLimiter.attempt(ctx.ip, username || null);
    if (!attempt.allowed) return rateLimited(ctx, state, attempt.retryAfterSeconds, 'sign_in');
    const subject = username && password ? await deps.users.authenticate(username, password) : null;
    if (subject) await attempt.notAFailure();
    else {
      return render(ctx, state, 401, signInPage(frame(state), { username, message: 'Wrong username or password.' }));
    }
    // A new session id at sign-in: a session planted before it (fixation) is worth nothing after.
    state.session = { ...sessions.anonymous(), subject, userCode: state.session.userCode, authorization: state.session.authorization ?? null };
    state.subject = subject;
    redirect(ctx, state, afterSignIn(state.session));
  };

  const confirmation: PageHandler = async (ctx) => {
    const state = await pageState(ctx);
    if (!state.subject) return redirect(ctx, state, '/device/sign-in');
    const { userCode } = state.session;
    if (!userCode) return redirect(ctx, state, '/device');
    const grant = await deps.grants.findByUserCode(userCode);
    if (!isDecidable(grant, deps.clock.now())) {
      state.session = { ...state.session, userCode: null };
      return render(ctx, state, 400, outcomePage(frame(state), 'invalid'));
    }
    render(ctx, state, 200, confirmationPage(frame(state), await confirmationDetails(deps, grant)));
  };

  const decide: PageHandler = async (ctx) => {
    const { state, form } = await postedForm(ctx);
    const { userCode } = state.session;
    if (!state.subject || !userCode) return redirect(ctx, state, state.subject ? '/device' : '/device/sign-in');
    const decision = form.get('decision');
    if (decision !== 'approve' && decision !== 'deny') {
      return render(ctx, state, 400, outcomePage(frame(state), 'bad_request', 'Choose Approve or Deny.'));
    }
    const outcome = await deps.grants.decide(
      userCode,
      decision === 'approve' ? { kind: 'approve', subject: state.subject } : { kind: 'deny' },
      deps.clock.now(),
    );
    state.session = { ...state.session, userCode: null };
    if (outcome === 'approved' || outcome === 'denied') grantOutcomes.inc({ outcome });
    deps.logger.info({ event: 'device_decision', decision, outcome, subject: state.subject }, 'device grant decided');
    if (deps.audit && (outcome === 'approved' || outcome === 'denied')) {
      deps.audit.forRequest(ctx)(outcome, { ...(await auditedGrant(userCode)), subject: state.subject });
    }
    const page: Outcome = outcome === 'approved' ? 'approved' : outcome === 'denied' ? 'denied' : 'invalid';
    render(ctx, state, page === 'invalid' ? 400 : 200, outcomePage(frame(state), page));
  };

  const signOut: PageHandler = async (ctx) => {
    const { state } = await postedForm(ctx);
    if (state.session.subject) {
      await deps.sessionRevocations?.end(state.session);
      deps.audit?.forRequest(ctx)('signed_out', { subject: state.session.subject });
    }
    state.session = sessions.anonymous();
    state.subject = subjectFromHeader(ctx);
    redirect(ctx, state, '/device');
  };

  /** Where sign-in continues: a pending authorization request (code flow) first, then a device code. */
  function afterSignIn(session: Session): string {
    if (session.authorization) return '/device/authorize/confirm';
    return session.userCode ? '/device/confirm' : '/device';
  }

  return {
    /** What the authorization endpoint's pages (authorize-handlers.ts) share with these. */
    kit: { pageState, postedForm, frame, render, redirect, rateLimited },
    errors: pageErrors(deps),
    stylesheet,
    showCodeEntry,
    enterCode,
    signInForm,
    signIn,
    confirmation,
    decide,
    signOut,
  };

  async function pageState(ctx: Context): Promise<PageState> {
    let session = sessions.read(ctx);
    // A signed-in session that was signed out (on any instance) counts as none.
    if (session.subject && (await deps.sessionRevocations?.isEnded(session))) session = sessions.anonymous();
    const state: PageState = { session, subject: subjectFromHeader(ctx) ?? session.subject };
    ctx.state.page = state;
    return state;
  }

  /** Only when explicitly configured: the SSO proxy in front has already signed the person in. */
  function subjectFromHeader(ctx: Context): string | null {
    if (!settings.trusted_header) return null;
    const value = ctx.get(settings.trusted_header).trim();
    return value && value.length <= 256 ? value : null;
  }

  /** Every POST: a form body and a CSRF token bound to this browser's session. */
  async function postedForm(ctx: Context): Promise<{ state: PageState; form: Map<string, string> }> {
    const state = await pageState(ctx);
    const params = await readForm(ctx.req);
    const form = new Map([...params].map(([name, values]) => [name, values[0] ?? '']));
    if (!sessions.verifyCsrf(state.session, form.get('csrf'))) throw new CsrfError();
    return { state, form };
  }

  function frame(state: PageState): PageFrame {
    const signedInAs = state.subject && !settings.trusted_header ? deps.users.displayName(state.subject) : null;
    return { signedInAs, csrf: sessions.csrfToken(state.session) };
  }

  function render(ctx: Context, state: PageState, status: number, page: Html): void {
    sessions.write(ctx, state.session);
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = page.value;
  }

  /** The grant a decision was about, for the audit line (it stays findable after the decision). */
  async function auditedGrant(userCode: string): Promise<{ client_id: string | null; grant: string | null }> {
    const grant = await deps.grants.findByUserCode(userCode).catch(() => null);
    return { client_id: grant?.clientId ?? null, grant: grant ? grantReference(grant.deviceCodeHash) : null };
  }

  function rateLimited(ctx: Context, state: PageState, retryAfterSeconds: number, limiter: string): void {
    deps.audit?.forRequest(ctx)('lockout', { limiter, subject: state.subject, retry_after: retryAfterSeconds });
    ctx.set('Retry-After', String(retryAfterSeconds));
    render(ctx, state, 429, outcomePage(frame(state), 'rate_limited', minutes(retryAfterSeconds)));
  }

  function redirect(ctx: Context, state: PageState, location: string): void {
    sessions.write(ctx, state.session);
    ctx.status = 303; // See Other: the browser follows a POST with a GET
    ctx.redirect(location);
  }
}

export class CsrfError extends Error {}

/** Security headers on every page, and errors as pages (never JSON, never a stack trace). */
function pageErrors(deps: VerificationDeps) {
  return async (ctx: Context, next: Next) => {
    for (const [name, value] of Object.entries(PAGE_HEADERS)) ctx.set(name, value);
    try {
      await next();
    } catch (error) {
      const state = ctx.state.page as PageState | undefined;
      const session = state?.session ?? deps.sessions.anonymous();
      const pageFrame = { csrf: deps.sessions.csrfToken(session), signedInAs: null };
      let status = 500;
      let page = outcomePage(pageFrame, 'unavailable');
      if (error instanceof CsrfError) {
        status = 403;
        page = outcomePage(pageFrame, 'bad_request', 'This form has expired or was sent from elsewhere.');
      } else if (error instanceof InvalidRequestError) {
        status = error.status;
        page = outcomePage(pageFrame, 'bad_request', 'The form could not be read.');
      } else if (error instanceof TemporarilyUnavailableError || deps.isStoreFailure(error)) {
        status = 503;
      } else {
        deps.logger.error({ err: error, path: ctx.path }, 'verification page failed');
      }
      // /oauth/authorize receives no session cookie (its Path is /device): writing one would replace the person's.
      if (ctx.path !== '/oauth/authorize') deps.sessions.write(ctx, session);
      ctx.status = status;
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = page.value;
    }
  };
}

async function confirmationDetails(deps: VerificationDeps, grant: DeviceGrant) {
  // A document-identified client (an https client_id) is named by its document's host: who really asks.
  const client: ResolvedClient | undefined = deps.clients.get(grant.clientId) ?? (await deps.clients.resolve(grant.clientId).catch(() => undefined));
  const documentHost = client?.metadataDocument?.host;
  const ageSeconds = Math.max(0, Math.round((deps.clock.now() - grant.createdAt) / 1000));
  return {
    userCode: formatUserCode(grant.userCode),
    clientName: documentHost ? `${documentHost}${client?.client_name ? ` (says: ${client.client_name})` : ''}` : (client?.client_name ?? grant.clientId),
    clientId: grant.clientId,
    scopes: describeScopes(grant.scope, deps.settings.scope_descriptions),
    resources: grant.resource,
    requestedAt: new Date(grant.createdAt).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
    requestedAgo: ageSeconds < 60 ? `${plural(ageSeconds, 'second')} ago` : `${plural(Math.round(ageSeconds / 60), 'minute')} ago`,
    requesterIp: grant.requester.ip,
    requesterUserAgent: grant.requester.userAgent,
  };
}

function minutes(seconds: number): string {
  return plural(Math.max(1, Math.ceil(seconds / 60)), 'minute');
}

/** `1 minute`, `2 minutes`, `0 seconds`. */
function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}
