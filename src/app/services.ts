import type { AuthorizationServerMetadata, JsonWebKeySet } from '../contracts/discovery.js';
import type { ClientRegistry } from '../domain/clients.js';
import type { DeviceAuthorizationDeps } from '../domain/device-authorization.js';
import type { TokenAdminDeps } from '../domain/token-admin.js';
import type { TokenGrantDeps } from '../domain/token-grants.js';

/** Long-lived services the procedures use. */
export interface Services {
  readonly clients: ClientRegistry;
  readonly deviceAuthorization: DeviceAuthorizationDeps;
  readonly tokenGrants: TokenGrantDeps;
  readonly tokenAdmin: TokenAdminDeps;
  readonly metadata: AuthorizationServerMetadata;
  readonly jwks: JsonWebKeySet;
}

/** Per-request context: what the HTTP layer learnt outside the form body. */
export interface RequestContext {
  readonly services: Services;
  /** HTTP Basic client credentials (RFC 6749 §2.3.1), already decoded. */
  readonly basic: { clientId: string; clientSecret: string } | undefined;
  readonly requester: { ip: string | null; userAgent: string | null };
}
