import { TokenRequest } from '../../contracts/token.js';
import type { Caller } from '../caller.js';
import { formEndpoint } from '../form-endpoint.js';

/** POST /oauth/token — RFC 8628 §3.4 device_code polling, RFC 6749 §6 refresh. */
export const tokenHandler = (callerFor: Caller) =>
  formEndpoint(callerFor, TokenRequest, (procedures, input) => procedures.token(input));
