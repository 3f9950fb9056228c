import {
  DeviceAuthorizationRequest,
  DeviceAuthorizationResponse,
  deviceAuthorizationErrors,
} from '../../contracts/device-authorization.js';
import { authorizeDevice } from '../../domain/device-authorization.js';
import { authenticatedClient, endpoint } from '../endpoint.js';

/** RFC 8628 §3.1–3.2. */
export const deviceAuthorization = endpoint({
  input: DeviceAuthorizationRequest,
  output: DeviceAuthorizationResponse,
  openapi: {
    method: 'POST',
    path: '/oauth/device/authorize',
    summary: 'Device Authorization Request (RFC 8628 §3.1)',
    description:
      'Issues a device_code for the client to poll with and a user_code for the person to enter at verification_uri. ' +
      'expires_in and interval are always present and dictated by the server.',
    tags: ['OAuth'],
    successDescription: 'RFC 8628 §3.2 device authorization response',
  },
  oauthErrors: deviceAuthorizationErrors,
  run: async (ctx, input) =>
    authorizeDevice(ctx.services.deviceAuthorization, await authenticatedClient(ctx, input), {
      scope: input.scope,
      resource: input.resource,
      requester: ctx.requester,
    }),
});
