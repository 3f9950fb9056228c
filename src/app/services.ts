import type { AuthorizationServerMetadata, JsonWebKeySet } from '../contracts/discovery.js';
import type { ClientRegistry } from '../domain/clients.js';
import type { DeviceAuthorizationDeps } from '../domain/device-authorization.js';
import type { TokenAdminDeps } from '../domain/token-admin.js';
import type { TokenGrantDeps } from '../domain/token-grants.js';
import type { AuditSink, AuditTrail } from '../domain/audit.js';
import type { FailedAuthenticationLimiter } from '../domain/clients.js';

/** Long-lived services the procedures use. */
export interface Services {
  readonly clients: ClientRegistry;
  readonly deviceAuthorization: DeviceAuthorizationDeps;
  readonly tokenGrants: TokenGrantDeps;
  readonly tokenAdmin: TokenAdminDeps;
  readonly metadata: AuthorizationServerMetadata;
  readonly jwks: JsonWebKeySet;
  /** Device authorization requests per client IP and per client (each creates a grant): absent, unlimited. */
  readonly deviceAuthorizationLimiter?: FailedAuthenticationLimiter;
  /**
   * The same limit's numbers (config `rate_limits.device_authorization`), for a grant store that counts
   * it in the step that creates the grant (DeviceGrantRepository.createWithFloodLimit); absent, the
   * limiter alone counts.
   */
  readonly deviceAuthorizationFloodLimit?: { readonly perIp: number; readonly perClient: number; readonly windowSeconds: number };
  /** The audit trail (one line per grant transition); absent in unit tests. */
  readonly audit?: AuditTrail;
}

/** Per-request context: what the HTTP layer learnt outside the form body. */
export interface RequestContext {
  readonly services: Services;
  /** HTTP Basic client credentials (RFC 6749 §2.3.1), already decoded. */
  readonly basic: { clientId: string; clientSecret: string } | undefined;
  readonly requester: { ip: string | null; userAgent: string | null };
  /** Records an audit event with this request's id and client IP. */
  readonly audit?: AuditSink | undefined;
}
