import type { ClientConfig } from '../config.js';
import { ClientMetadataError, type ClientMetadataResolver, isClientMetadataDocumentId } from './client-metadata-document.js';
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

/**
 * A client as the endpoints see it: a registered one from the config, or one described by a Client ID
 * Metadata Document (then `metadataDocument` says where it came from, for the confirmation page).
 */
export type ResolvedClient = ClientConfig & {
  readonly metadataDocument?: { readonly host: string; readonly clientName: string | undefined };
};

/** Client ID Metadata Documents, when the config enables them. */
export interface ClientMetadataDocumentSupport {
  readonly resolver: ClientMetadataResolver;
  /** Scopes any document-identified client may be granted (config `client_id_metadata_documents.scope`). */
  readonly scope: string;
  /** The top-level `resources`: a document-identified client may ask for any of them. */
  readonly resources: readonly string[];
}

export interface ClientRegistryOptions {
  /** The top-level `resources`: what a registered client without resources of its own may ask for. */
  readonly resources?: readonly string[];
  readonly metadataDocuments?: ClientMetadataDocumentSupport;
}

export class ClientRegistry {
  private readonly clients: ReadonlyMap<string, ClientConfig>;
  private readonly metadataDocuments: ClientMetadataDocumentSupport | undefined;

  constructor(
    clients: readonly ClientConfig[],
    private readonly guards: ClientAuthenticationGuards = {},
    options: ClientRegistryOptions = {},
  ) {
    const serverResources = options.resources ?? [];
    // A registered client's own `resources` narrow the server's; without any it gets the server's.
    this.clients = new Map(
      clients.map((client) => [
        client.client_id,
        client.resources.length || !serverResources.length ? client : { ...client, resources: [...serverResources] },
      ]),
    );
    this.metadataDocuments = options.metadataDocuments;
  }

  /** A registered client (synchronous, no I/O). Document-identified clients: see `resolve`. */
  get(clientId: string): ClientConfig | undefined {
    return this.clients.get(clientId);
  }

  /**
   * Any client: registered ones from memory; an https client_id, when Client ID Metadata Documents
   * are enabled, by fetching (and caching) its document. Undefined when unknown; a document that
   * cannot be used throws ClientMetadataError (every reason is `invalid_client`).
   */
  async resolve(clientId: string): Promise<ResolvedClient | undefined> {
    const registered = this.clients.get(clientId);
    if (registered) return registered;
    const documents = this.metadataDocuments;
    if (!documents || !isClientMetadataDocumentId(clientId)) return undefined;
    const document = await documents.resolver.resolve(clientId);
    const grantTypes: string[] = [...document.grantTypes];
    // A public client using the code flow gets rotating refresh tokens (OAuth 2.1 §4.3.1) when its document asks.
    return {
      client_id: document.clientId,
      client_name: document.clientName,
      active: true,
      grant_types: grantTypes,
      scope: documents.scope,
      token_endpoint_auth_method: 'none',
      resources: [...documents.resources],
      redirect_uris: [...document.redirectUris],
      metadataDocument: { host: document.host, clientName: document.clientName },
    };
  }

  /** True when document-identified clients are enabled (for the metadata). */
  get supportsMetadataDocuments(): boolean {
    return this.metadataDocuments !== undefined;
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

    const client = this.clients.get(clientId) ?? (await this.resolveForAuthentication(clientId));
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

  /** A document-identified client for the token and device endpoints: an unusable document is invalid_client. */
  private async resolveForAuthentication(clientId: string): Promise<ResolvedClient | undefined> {
    try {
      return await this.resolve(clientId);
    } catch (error) {
      if (error instanceof ClientMetadataError) throw new InvalidClientError(`client metadata document refused: ${error.message}`);
      throw error;
    }
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
