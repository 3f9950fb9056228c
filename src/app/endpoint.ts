import type { z } from 'zod';
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
 * the OAuth errors it can answer with, and what it does. The Koa handlers (src/http/) run them
 * directly with the same contract validation; the tRPC router (src/openapi/router.ts) is built from
 * them only to generate the OpenAPI document, so tRPC's per-call machinery stays off the request path.
 */
export interface Endpoint<Input extends z.ZodObject, Output extends z.ZodType> {
  readonly input: Input;
  readonly output: Output;
  readonly openapi: OpenApiMeta;
  readonly oauthErrors?: readonly string[];
  run(ctx: RequestContext, input: z.infer<Input>): Promise<z.infer<Output>>;
}

export function endpoint<Input extends z.ZodObject, Output extends z.ZodType>(definition: Endpoint<Input, Output>) {
  return definition;
}

/** RFC 6749 §2.3: the client named by Basic or by the body, authenticated by its registered method. */
export function authenticatedClient(ctx: RequestContext, input: { client_id?: string | undefined; client_secret?: string | undefined }) {
  return ctx.services.clients.authenticate({ basic: ctx.basic, clientId: input.client_id, clientSecret: input.client_secret });
}
