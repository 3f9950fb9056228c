import {
  DeviceAuthorizationRequest,
  DeviceAuthorizationResponse,
  deviceAuthorizationErrors,
} from '../../contracts/device-authorization.js';
import { grantReference } from '../../domain/audit.js';
import { hashDeviceCode } from '../../domain/codes.js';
import { authorizeDevice } from '../../domain/device-authorization.js';
import { authenticatedClient, endpoint, limitDeviceAuthorizations, rejectedDeviceAuthorization } from '../endpoint.js';

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
  run: async (ctx, input) => {
    const client = await authenticatedClient(ctx, input);
    const floodLimit = await limitDeviceAuthorizations(ctx, client.client_id);
    const response = await authorizeDevice(ctx.services.deviceAuthorization, client, {
      scope: input.scope,
      resource: input.resource,
      requester: ctx.requester,
      floodLimit,
    }).catch((error: unknown) => {
      rejectedDeviceAuthorization(ctx, client.client_id, error);
      throw error;
    });
    ctx.audit?.('issued', {
      client_id: client.client_id,
      subject: null,
      grant: grantReference(hashDeviceCode(response.device_code)),
      expires_in: response.expires_in,
    });
    return response;
  },
});
