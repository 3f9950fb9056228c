import { DeviceAuthorizationRequest } from '../../contracts/device-authorization.js';
import type { Caller } from '../caller.js';
import { formEndpoint } from '../form-endpoint.js';

/** POST /oauth/device/authorize — RFC 8628 §3.1 request, §3.2 response. */
export const deviceAuthorizationHandler = (callerFor: Caller) =>
  formEndpoint(callerFor, DeviceAuthorizationRequest, (procedures, input) => procedures.deviceAuthorization(input));
