import type { z } from 'zod';
import type { Endpoint } from '../app/endpoint.js';
import { type EndpointName, endpoints } from '../app/endpoints.js';
import { t } from './trpc.js';

/** Form bodies: the OAuth endpoints speak application/x-www-form-urlencoded only (RFC 6749 §3.2). */
const FORM = ['application/x-www-form-urlencoded'];

/**
 * The endpoints as a tRPC router: the contract registry from which trpc-to-openapi generates the
 * OpenAPI document (src/openapi/document.ts), and a typed in-process API (`createCaller`).
 */
function procedure<I extends z.ZodObject, O extends z.ZodType>(name: EndpointName, e: Endpoint<I, O>) {
  const base = t.procedure
    .meta({
      openapi: {
        ...e.openapi,
        operationId: name === 'metadata' ? 'authorizationServerMetadata' : name,
        ...(e.openapi.method === 'POST' && { contentTypes: FORM }),
      },
    })
    .input(e.input)
    .output(e.output);
  // tRPC's generic parser types do not reduce to z.infer inside a generic function; the procedure's
  // public types still come from .input()/.output() above.
  const resolve = ({ ctx, input }: { ctx: Parameters<Endpoint<I, O>['run']>[0]; input: unknown }) =>
    e.run(ctx, input as z.infer<I>) as Promise<never>;
  return e.openapi.method === 'GET' ? base.query(resolve) : base.mutation(resolve);
}

export const appRouter = t.router({
  deviceAuthorization: procedure('deviceAuthorization', endpoints.deviceAuthorization),
  token: procedure('token', endpoints.token),
  revoke: procedure('revoke', endpoints.revoke),
  introspect: procedure('introspect', endpoints.introspect),
  metadata: procedure('metadata', endpoints.metadata),
  jwks: procedure('jwks', endpoints.jwks),
});

/** Which OAuth error codes each operation can answer with (documented in the OpenAPI document). */
export const oauthErrorsByOperation: Record<string, readonly string[]> = Object.fromEntries(
  Object.entries(endpoints).flatMap(([name, e]) => ('oauthErrors' in e && e.oauthErrors ? [[name, e.oauthErrors]] : [])),
);

export type AppRouter = typeof appRouter;
export const createCaller = t.createCallerFactory(appRouter);
