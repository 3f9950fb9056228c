import {
  DeviceAuthorizationRequest,
  DeviceAuthorizationResponse,
  deviceAuthorizationErrors,
} from '../contracts/device-authorization.js';
import { authorizeDevice } from '../domain/device-authorization.js';
import { t } from './trpc.js';

/** Form bodies: the OAuth endpoints speak application/x-www-form-urlencoded only (RFC 6749 §3.2). */
const FORM = ['application/x-www-form-urlencoded'] as const;

/**
 * The application layer. Koa calls these through `createCaller`; the same router yields the
 * OpenAPI document (scripts/generate.ts). Input and output are the contracts in src/contracts/.
 */
export const appRouter = t.router({
  deviceAuthorization: t.procedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/oauth/device/authorize',
        operationId: 'deviceAuthorization',
        summary: 'Device Authorization Request (RFC 8628 §3.1)',
        description:
          'Issues a device_code for the client to poll with and a user_code for the person to enter at verification_uri. ' +
          'expires_in and interval are always present and dictated by the server.',
        tags: ['OAuth'],
        contentTypes: [...FORM],
        successDescription: 'RFC 8628 §3.2 device authorization response',
      },
    })
    .input(DeviceAuthorizationRequest)
    .output(DeviceAuthorizationResponse)
    .mutation(async ({ ctx, input }) => {
      const { services } = ctx;
      const client = await services.clients.authenticate({
        basic: ctx.basic,
        clientId: input.client_id,
        clientSecret: input.client_secret,
      });
      return authorizeDevice(services.deviceAuthorization, client, {
        scope: input.scope,
        resource: input.resource,
        requester: ctx.requester,
      });
    }),
});

/** Which OAuth error codes each operation can answer with (documented in the OpenAPI document). */
export const oauthErrorsByOperation: Record<string, readonly string[]> = {
  deviceAuthorization: deviceAuthorizationErrors,
};

export type AppRouter = typeof appRouter;
export const createCaller = t.createCallerFactory(appRouter);
