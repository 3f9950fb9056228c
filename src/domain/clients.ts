import type { ClientConfig } from '../config.js';
import { InvalidClientError, InvalidRequestError, RateLimitedError, UnauthorizedClientError } from './errors.js';
import { verifySecret } from './password.js';
import type { VerifiedSecretCache } from './verified-secrets.js';

/**
 * Counts failed client authentications per client IP and per client (src/ui/limiter.ts's
 * FailedAttemptLimiter fits): a point is taken before the scrypt and given back on success.
 */
export interface FailedAuthenticationLimiter {
  attempt(
    ip: string,
    clientId: string | null,
  ): Promise<{ allowed: true; notAFailure(): Promise<void> } | { allowed: false; retryAfterSeconds: number }>;
}

export interface ClientAuthenticationGuards {
  readonly failedAuthentications?: FailedAuthenticationLimiter;
  readonly verifiedSecrets?: VerifiedSecretCache;
}

/** What the request carried to identify and authenticate the client (RFC 6749 §2.3). */
export interface ClientCredentials {
  /** From HTTP Basic (client_secret_basic), already form-decoded. */
  basic?: { clientId: string; clientSecret: string } | undefined;
  /** From the form body. */
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  /** The client IP, for the failed-authentication limit. */
  ip?: string | null | undefined;
}

export class ClientRegistry {
  private readonly clients: ReadonlyMap<string, ClientConfig>;

  constructor(
    clients: readonly ClientConfig[],
    private readonly guards: ClientAuthenticationGuards = {},
  ) {
    this.clients = new Map(clients.map((client) => [client.client_id, client]));
  }

  get(clientId: string): ClientConfig | undefined {
    return this.clients.get(clientId);
  }


  /**
   * RFC 6749 §2.3: identifies the client and checks its registered authentication method. Unknown
   * clients and failed authentication are the same invalid_client, so the answer leaks nothing.
   */
  async authenticate(credentials: ClientCredentials): Promise<ClientConfig> {
    const { basic } = credentials;
    const basicAttempted = basic !== undefined;
    if (basic && credentials.clientSecret !== undefined) {
      // RFC 6749 §2.3: the client MUST NOT use more than one authentication method in a request.
      throw new InvalidRequestError('client authentication must use one method, not both Basic and client_secret');
    }
    if (basic && credentials.clientId !== undefined && credentials.clientId !== basic.clientId) {
      throw new InvalidRequestError('client_id does not match the Authorization header');
    }
    const clientId = basic?.clientId ?? credentials.clientId;
    if (clientId === undefined) throw new InvalidRequestError('client_id is required');

    const client = this.clients.get(clientId);
    if (!client) {
      // Counted per IP only: an unknown client_id must not create a limiter key of its own.
      if (basicAttempted || credentials.clientSecret !== undefined) await this.countFailure(credentials.ip, null);
      throw new InvalidClientError('client authentication failed', { basicAttempted });
    }

    const method = client.token_endpoint_auth_method;
    const presented = basic ? 'client_secret_basic' : credentials.clientSecret !== undefined ? 'client_secret_post' : 'none';
    if (presented !== method) {
      throw new InvalidClientError(`client must authenticate with ${method}`, { basicAttempted });
    }
    if (method !== 'none') {
      const secret = basic?.clientSecret ?? credentials.clientSecret ?? '';
      const stored = client.client_secret_hash ?? '';
      // A secret verified recently: no scrypt, and no limiter round trip either.
      if (this.guards.verifiedSecrets?.has(client.client_id, stored, secret)) return client;
      const attempt = await this.guards.failedAuthentications?.attempt(credentials.ip ?? 'unknown', client.client_id);
      if (attempt && !attempt.allowed) throw tooManyFailures(attempt.retryAfterSeconds);
      if (!stored || !(await verifySecret(secret, stored))) {
        throw new InvalidClientError('client authentication failed', { basicAttempted });
      }
      await attempt?.notAFailure();
      this.guards.verifiedSecrets?.add(client.client_id, stored, secret);
    }
    return client;
  }

  private async countFailure(ip: string | null | undefined, clientId: string | null): Promise<void> {
    const attempt = await this.guards.failedAuthentications?.attempt(ip ?? 'unknown', clientId);
    if (attempt && !attempt.allowed) throw tooManyFailures(attempt.retryAfterSeconds);
  }
}

/** RFC 6749 §5.2 unauthorized_client: the client exists but may not use this grant. */
export function assertGrantAllowed(client: ClientConfig, grantType: string): void {
  if (!client.active) throw new UnauthorizedClientError('client is not active');
  if (!client.grant_types.includes(grantType)) {
    throw new UnauthorizedClientError(`client is not allowed the grant type ${grantType}`);
  }
}


function tooManyFailures(retryAfterSeconds: number): RateLimitedError {
  return new RateLimitedError(
    `too many failed client authentications; retry after ${retryAfterSeconds} seconds`,
    retryAfterSeconds,
    'failed_client_authentication',
  );
}
