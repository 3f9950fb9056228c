import { RevocationRequest } from '../../contracts/revocation.js';
import type { Caller } from '../caller.js';
import { formEndpoint } from '../form-endpoint.js';

/** POST /oauth/revoke — RFC 7009. */
export const revocationHandler = (callerFor: Caller) =>
  formEndpoint(callerFor, RevocationRequest, (procedures, input) => procedures.revoke(input));
