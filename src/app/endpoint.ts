import type { z } from 'zod';
import { type OAuthError, RateLimitedError } from '../domain/errors.js';
import { DEVICE_AUTHORIZATION_LIMITER, type GrantFloodLimit } from '../domain/grant-repository.js';
import { ipBucket } from '../domain/ip-bucket.js';
import { limiterRejections } from '../metrics.js';
import type { RequestContext } from './services.js';

type OpenApiMeta = {
  readonly method: 'GET' | 'POST';
  readonly path: `/${string}`;
  readonly summary: string;
  readonly description?: string;
  readonly tags: string[];
  readonly successDescription?: string;
};

/**
 * One endpoint of the application layer: its contract (Zod input and output), its OpenAPI meta,
 * the OAuth errors it can answer with, and what it does. The HTTP handlers (src/http/) run them
 * directly with the same contract validation; the tRPC router (src/openapi/router.ts) is built from
 * them only to generate the OpenAPI document, so tRPC's per-call machinery stays off the request path.
 */
export interface Endpoint<Input extends z.ZodObject, Output extends z.ZodType> {
  readonly input: Input;
  readonly output: Output;
  readonly openapi: OpenApiMeta;
  readonly oauthErrors?: readonly string[];
  /**
   * Resolves to the answer, or to an OAuth error that is an ordinary outcome (a pending poll: see
   * exchangeToken), which is answered exactly as if it had been thrown.
   */
  run(ctx: RequestContext, input: z.infer<Input>): Promise<z.infer<Output> | OAuthError>;
}

export function endpoint<Input extends z.ZodObject, Output extends z.ZodType>(definition: Endpoint<Input, Output>) {
  return definition;
}

/**
 * RFC 6749 §2.3: the client named by Basic or by the body, authenticated by its registered method;
 * failed authentications are limited per client IP and per client (429 `slow_down`, audited).
 */
export async function authenticatedClient(
  ctx: RequestContext,
  input: { client_id?: string | undefined; client_secret?: string | undefined },
) {
  try {
    return await ctx.services.clients.authenticate({
      basic: ctx.basic,
      clientId: input.client_id,
      clientSecret: input.client_secret,
      ip: ctx.requester.ip,
    });
  } catch (error) {
    if (error instanceof RateLimitedError) lockout(ctx, error, ctx.basic?.clientId ?? input.client_id);
    throw error;
  }
}

function lockout(ctx: RequestContext, error: RateLimitedError, clientId: string | undefined): void {
  ctx.audit?.('lockout', { limiter: error.limiter, client_id: clientId ?? null, retry_after: error.retryAfterSeconds });
}

/**
 * Each device authorization creates a grant in the store: bounded per client IP and per client so a
 * flood cannot fill Redis (README, "Deploying it": the bound). Counted after authentication, so
 * unknown clients never get a limiter key; failed authentications have their own limit.
 *
 * The one place that picks how it is counted: a grant store that can count the limit in the step that
 * creates the grant (createWithFloodLimit: a standalone Redis, one round trip) gets the limit to count,
 * returned here for authorizeDevice; otherwise (memory store, Redis Cluster) the limiter counts now.
 * Either way a refusal is 429 `slow_down` with Retry-After, the limiter-rejection metric and a
 * `lockout` audit line (src/ui/limiter.ts counts the metric on its path; rejectedDeviceAuthorization here).
 */
export async function limitDeviceAuthorizations(ctx: RequestContext, clientId: string): Promise<GrantFloodLimit | undefined> {
  const { deviceAuthorizationLimiter: limiter, deviceAuthorizationFloodLimit: policy, deviceAuthorization } = ctx.services;
  const ip = ctx.requester.ip ?? 'unknown';
  if (policy && deviceAuthorization.store.createWithFloodLimit) {
    return { ipBucket: ipBucket(ip), clientId, perIp: policy.perIp, perClient: policy.perClient, windowMs: policy.windowSeconds * 1000 };
  }
  if (!limiter) return undefined;
  const attempt = await limiter.attempt(ip, clientId);
  if (attempt.allowed) return undefined;
  const error = new RateLimitedError(
    `too many device authorization requests; retry after ${attempt.retryAfterSeconds} seconds`,
    attempt.retryAfterSeconds,
    DEVICE_AUTHORIZATION_LIMITER,
  );
  lockout(ctx, error, clientId);
  throw error;
}

/** The grant store refused a device authorization over the flood limit (authorizeDevice threw): metric and audit, as the limiter's path. */
export function rejectedDeviceAuthorization(ctx: RequestContext, clientId: string, error: unknown): void {
  if (!(error instanceof RateLimitedError) || error.limiter !== DEVICE_AUTHORIZATION_LIMITER) return;
  limiterRejections.inc({ limiter: DEVICE_AUTHORIZATION_LIMITER });
  lockout(ctx, error, clientId);
}
