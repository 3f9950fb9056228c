import { metadata, jwks } from './endpoints/discovery.js';
import { deviceAuthorization } from './endpoints/device-authorization.js';
import { introspect } from './endpoints/introspection.js';
import { revoke } from './endpoints/revocation.js';
import { token } from './endpoints/token.js';

/**
 * Every endpoint of the application layer, one file each under endpoints/ (contract + what it runs).
 * The HTTP front (src/http/app.ts) mounts them; the tRPC router (src/openapi/router.ts) is built
 * from them to generate the OpenAPI document. The key order is the document's operation order.
 */
export const endpoints = { deviceAuthorization, token, revoke, introspect, metadata, jwks };

export type EndpointName = keyof typeof endpoints;
