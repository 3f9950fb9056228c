import { type ClientConfig, type ConfigFile, DEVICE_CODE_GRANT_TYPE } from '../config.js';
import type { DeviceAuthorizationResponse } from '../contracts/device-authorization.js';
import { DEVICE_AUTHORIZATION_LIMITER, type DeviceGrantRepository, type GrantFloodLimit } from './grant-repository.js';
import type { DeviceGrant } from './device-grant.js';
import { assertGrantAllowed } from './clients.js';
import type { Clock } from './clock.js';
import { formatUserCode, generateDeviceCode, generateUserCode, hashDeviceCode } from './codes.js';
import { InvalidScopeError, InvalidTargetError, RateLimitedError, TemporarilyUnavailableError } from './errors.js';

/** How often a new user code is drawn when it collides with a live grant's (31^8 codes: rare). */
const USER_CODE_ATTEMPTS = 5;

export interface DeviceAuthorizationDeps {
  readonly store: DeviceGrantRepository;
  readonly clock: Clock;
  /** Public base URL without trailing slash. */
  readonly issuer: string;
  readonly defaultPolicy: ConfigFile['device_code'];
  readonly generateUserCode?: () => string;
}

export interface DeviceAuthorizationInput {
  readonly scope?: string | undefined;
  readonly resource?: readonly string[] | undefined;
  readonly requester: { readonly ip: string | null; readonly userAgent: string | null };
  /** Count this flood limit in the step that stores the grant (the store offers createWithFloodLimit; src/app/endpoint.ts decides). */
  readonly floodLimit?: GrantFloodLimit | undefined;
}

/** RFC 8628 §3.1–3.2: checks the request against the client's registration and issues a code pair. */
export async function authorizeDevice(
  deps: DeviceAuthorizationDeps,
  client: ClientConfig,
  input: DeviceAuthorizationInput,
): Promise<DeviceAuthorizationResponse> {
  assertGrantAllowed(client, DEVICE_CODE_GRANT_TYPE);
  const scope = grantedScope(client, input.scope);
  const resource = grantedResources(client, input.resource ?? []);
  // The server, never the client, dictates lifetime and polling interval (RFC 8628 §3.2).
  const { expires_in, interval } = { ...deps.defaultPolicy, ...client.device_code };

  const now = deps.clock.now();
  const nextUserCode = deps.generateUserCode ?? generateUserCode;
  for (let attempt = 0; attempt < USER_CODE_ATTEMPTS; attempt++) {
    const userCode = nextUserCode();
    // Generated per user code: it carries the user code's routing tag (Redis Cluster slot).
    const deviceCode = generateDeviceCode(userCode);
    const grant: DeviceGrant = {
      deviceCodeHash: hashDeviceCode(deviceCode),
      userCode,
      clientId: client.client_id,
      scope,
      resource,
      status: 'pending',
      interval,
      createdAt: now,
      expiresAt: now + expires_in * 1000,
      lastPolledAt: null,
      subject: null,
      decidedAt: null,
      requester: input.requester,
    };
    const stored = await storeWithinFloodLimit(deps.store, grant, now, input.floodLimit);
    if (stored) {
      const displayed = formatUserCode(userCode);
      return {
        device_code: deviceCode,
        user_code: displayed,
        verification_uri: `${deps.issuer}/device`,
        verification_uri_complete: `${deps.issuer}/device?user_code=${displayed}`,
        expires_in,
        interval,
      };
    }
  }
  throw new TemporarilyUnavailableError('could not allocate a unique user code; retry');
}

/** Stores the grant, counting the flood limit in the same step when asked to; over the limit: 429 `slow_down`. */
async function storeWithinFloodLimit(
  store: DeviceGrantRepository,
  grant: DeviceGrant,
  now: number,
  limit: GrantFloodLimit | undefined,
): Promise<boolean> {
  if (!limit || !store.createWithFloodLimit) return store.create(grant, now);
  const outcome = await store.createWithFloodLimit(grant, now, limit);
  if (typeof outcome === 'boolean') return outcome;
  // As the limiter's path (src/ui/limiter.ts): whole seconds, at least 1 (RFC 9110 §10.2.3 Retry-After).
  const retryAfterSeconds = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
  throw new RateLimitedError(
    `too many device authorization requests; retry after ${retryAfterSeconds} seconds`,
    retryAfterSeconds,
    DEVICE_AUTHORIZATION_LIMITER,
  );
}

/** A client's registered scopes as a set, split once per client configuration (every authorization asks). */
const registeredScopeSets = new WeakMap<ClientConfig, { readonly scope: string; readonly set: ReadonlySet<string> }>();
function registeredScopes(client: ClientConfig): ReadonlySet<string> {
  const cached = registeredScopeSets.get(client);
  // Keyed by the configuration object; the scope string is compared too, so a changed value is never served stale.
  if (cached !== undefined && cached.scope === client.scope) return cached.set;
  const set = new Set(client.scope.split(' ').filter(Boolean));
  registeredScopeSets.set(client, { scope: client.scope, set });
  return set;
}

/**
 * RFC 6749 §3.3: the requested scope must be within the client's registered scope. When the
 * client omits it, the grant gets every scope the client is registered for (documented default).
 */
export function grantedScope(client: ClientConfig, requested: string | undefined): string[] {
  const allowed = registeredScopes(client);
  if (requested === undefined) return [...allowed];
  const tokens = requested.split(' ');
  if (tokens.some((token) => token === '')) throw new InvalidScopeError('scope must be single-space-separated scope tokens');
  const unknown = tokens.filter((token) => !allowed.has(token));
  if (unknown.length) throw new InvalidScopeError(`scope not allowed for this client: ${unknown.join(' ')}`);
  return [...new Set(tokens)];
}

/** RFC 8707 §2: each resource must be one the client may obtain tokens for. */
export function grantedResources(client: ClientConfig, requested: readonly string[]): string[] {
  const allowed = new Set(client.resources);
  const refused = requested.filter((resource) => !allowed.has(resource));
  if (refused.length) throw new InvalidTargetError(`resource not allowed for this client: ${refused.join(' ')}`);
  return [...new Set(requested)];
}
