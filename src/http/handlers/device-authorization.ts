import type { Context } from 'koa';
import { DeviceAuthorizationRequest } from '../../contracts/device-authorization.js';
import type { Caller } from '../caller.js';
import { parseBasicCredentials } from '../client-auth.js';
import { readForm } from '../form.js';
import { formToInput } from '../form-input.js';
import { setNoStore } from '../oauth-errors.js';

/** POST /oauth/device/authorize — RFC 8628 §3.1 request, §3.2 response. */
export function deviceAuthorizationHandler(callerFor: Caller) {
  return async function deviceAuthorization(ctx: Context): Promise<void> {
    const basic = parseBasicCredentials(ctx.get('authorization') || undefined);
    const input = formToInput(DeviceAuthorizationRequest, await readForm(ctx));
    const result = await callerFor(ctx, basic).deviceAuthorization(input as DeviceAuthorizationRequest);
    setNoStore(ctx);
    ctx.body = result;
  };
}
