import type { Context } from 'koa';
import type { z } from 'zod';
import { ServerError } from '../domain/errors.js';
import type { Endpoint } from '../app/endpoint.js';
import type { Services } from '../app/services.js';
import { parseBasicCredentials } from './client-auth.js';
import { readForm } from './form.js';
import { formToInput } from './form-input.js';
import { setJsonBody } from './json-body.js';
import { setNoStore } from './oauth-errors.js';
import { requestContext } from './request-context.js';

/**
 * The shape every OAuth POST endpoint shares: Basic credentials from the header, the form body
 * validated by the endpoint's input contract (a ZodError is rendered as invalid_request naming the
 * parameter), the endpoint's use case, the answer checked against its output contract (a mismatch
 * is our fault: server_error, never a leak of extra fields), no-store JSON. Errors propagate to the
 * one renderer.
 */
export function formEndpoint<Input extends z.ZodObject, Output extends z.ZodType>(services: Services, endpoint: Endpoint<Input, Output>) {
  return async function handleForm(ctx: Context): Promise<void> {
    const basic = parseBasicCredentials(ctx.get('authorization') || undefined);
    const input = endpoint.input.parse(formToInput(endpoint.input, await readForm(ctx)));
    const result = await endpoint.run(requestContext(services, ctx, basic), input);
    setNoStore(ctx);
    setJsonBody(ctx, checkedOutput(endpoint, result));
  };
}

/** GET endpoints (discovery): no input, the same output check. */
export function jsonEndpoint<Output extends z.ZodType>(services: Services, endpoint: Endpoint<z.ZodObject, Output>, cacheControl: string) {
  return async function handleGet(ctx: Context): Promise<void> {
    const result = await endpoint.run(requestContext(services, ctx, undefined), {});
    ctx.set('Cache-Control', cacheControl);
    setJsonBody(ctx, checkedOutput(endpoint, result));
  };
}

function checkedOutput<Output extends z.ZodType>(endpoint: Endpoint<z.ZodObject, Output>, result: unknown): z.infer<Output> {
  const checked = endpoint.output.safeParse(result);
  if (!checked.success) throw new ServerError('internal error', { cause: checked.error });
  return checked.data;
}
