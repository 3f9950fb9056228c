import type { Context } from 'koa';
import type { z } from 'zod';
import type { Caller } from './caller.js';
import { parseBasicCredentials } from './client-auth.js';
import { readForm } from './form.js';
import { formToInput } from './form-input.js';
import { setNoStore } from './oauth-errors.js';

type Procedures = ReturnType<Caller>;

/**
 * The shape every OAuth POST endpoint shares: Basic credentials from the header, the form body
 * shaped for the contract, the procedure (whose input validation is the contract), a no-store JSON
 * answer. Errors propagate to the one renderer.
 */
export function formEndpoint<Schema extends z.ZodObject, Result>(
  callerFor: Caller,
  contract: Schema,
  call: (procedures: Procedures, input: z.infer<Schema>) => Promise<Result>,
) {
  return async function handleForm(ctx: Context): Promise<void> {
    const basic = parseBasicCredentials(ctx.get('authorization') || undefined);
    const input = formToInput(contract, await readForm(ctx)) as z.infer<Schema>;
    const result = await call(callerFor(ctx, basic), input);
    setNoStore(ctx);
    ctx.body = result;
  };
}
