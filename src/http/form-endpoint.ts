import type { z } from 'zod';
import { OAuthError, ServerError } from '../domain/errors.js';
import type { Endpoint } from '../app/endpoint.js';
import type { Services } from '../app/services.js';
import { parseBasicCredentials } from './client-auth.js';
import type { Exchange } from './exchange.js';
import { readForm } from './form.js';
import { formToInput } from './form-input.js';
import { requestContext } from './request-context.js';

/**
 * The shape every OAuth POST endpoint shares: Basic credentials from the header, the form body
 * validated by the endpoint's input contract (a ZodError is rendered as invalid_request naming the
 * parameter), the endpoint's use case, the answer checked against its output contract (a mismatch
 * is our fault: server_error, never a leak of extra fields), no-store JSON. Errors propagate to the
 * one renderer (src/http/oauth-errors.ts).
 */
export function formEndpoint<Input extends z.ZodObject, Output extends z.ZodType>(services: Services, endpoint: Endpoint<Input, Output>) {
  return async function handleForm(exchange: Exchange): Promise<OAuthError | undefined> {
    const basic = parseBasicCredentials(exchange.header('authorization'));
    const input = endpoint.input.parse(formToInput(endpoint.input, await readForm(exchange.req)));
    exchange.grantType = (input as { grant_type?: unknown }).grant_type; // for the poll metrics (src/http/app.ts)
    const result = await endpoint.run(requestContext(services, exchange, basic), input);
    if (result instanceof OAuthError) return result; // an ordinary outcome (a pending poll): rendered as if thrown
    exchange.noStore();
    exchange.json(checkedOutput(endpoint, result));
    return undefined;
  };
}

/** GET endpoints (discovery): no input, the same output check. */
export function jsonEndpoint<Output extends z.ZodType>(services: Services, endpoint: Endpoint<z.ZodObject, Output>, cacheControl: string) {
  return async function handleGet(exchange: Exchange): Promise<OAuthError | undefined> {
    const result = await endpoint.run(requestContext(services, exchange, undefined), {});
    if (result instanceof OAuthError) return result;
    exchange.set('Cache-Control', cacheControl);
    exchange.json(checkedOutput(endpoint, result));
    return undefined;
  };
}

function checkedOutput<Output extends z.ZodType>(endpoint: Endpoint<z.ZodObject, Output>, result: unknown): z.infer<Output> {
  const checked = endpoint.output.safeParse(result);
  if (!checked.success) throw new ServerError('internal error', { cause: checked.error });
  return checked.data;
}
