import { type AuthorizationServerMetadata, DeviceGateClient, type DeviceGateClientOptions, OAuthResponseError, type RequestOptions } from './client.js';

/**
 * RFC 8414 metadata as any authorization server may publish it: only `issuer` and `token_endpoint`
 * are checked to be present; every other field (ours are in `AuthorizationServerMetadata`) may be
 * absent on another server, and unknown fields are kept.
 */
export type DiscoveredMetadata = Pick<AuthorizationServerMetadata, 'issuer' | 'token_endpoint'> &
  Partial<Omit<AuthorizationServerMetadata, 'issuer' | 'token_endpoint'>> &
  Record<string, unknown>;

export type DiscoveryFailure = 'invalid_issuer' | 'not_found' | 'http_error' | 'invalid_metadata' | 'issuer_mismatch';

/** Discovery failed: the reason, and the HTTP status where one was seen. */
export class DiscoveryError extends Error {
  override name = 'DiscoveryError';
  constructor(
    readonly reason: DiscoveryFailure,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Where the metadata of `issuer` may be, in the order tried: RFC 8414 §3.1 (well-known segment
 * inserted before the issuer's path), then the path-appended form many servers use, then OpenID
 * Connect Discovery (same fields, same issuer rule) for servers that publish only that.
 */
export function metadataUrls(issuer: string): string[] {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new DiscoveryError('invalid_issuer', `not a URL: ${issuer}`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash || url.username || url.password) {
    throw new DiscoveryError('invalid_issuer', `an issuer is an http(s) URL without query, fragment or credentials: ${issuer}`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  const wellKnown = (name: string) =>
    path ? [`${url.origin}/.well-known/${name}${path}`, `${url.origin}${path}/.well-known/${name}`] : [`${url.origin}/.well-known/${name}`];
  return [...wellKnown('oauth-authorization-server'), ...wellKnown('openid-configuration')];
}

export interface DiscoverOptions extends Omit<DeviceGateClientOptions, 'baseUrl' | 'endpoints'>, RequestOptions {}

export interface DiscoveredServer {
  readonly metadata: DiscoveredMetadata;
  /** Where the metadata was found. */
  readonly metadataUrl: string;
  /** A client whose calls go to the metadata's endpoints; an endpoint the metadata lacks throws EndpointNotAdvertisedError. */
  readonly client: DeviceGateClient;
}

/**
 * RFC 8414 discovery for any authorization server, not only devicegate: fetches the metadata, checks
 * that its `issuer` is exactly the one asked for (§3.3: refuse otherwise, it may be an impersonation)
 * and returns a client bound to the advertised endpoints.
 */
export async function discover(issuer: string, options: DiscoverOptions = {}): Promise<DiscoveredServer> {
  const { signal, ...clientOptions } = options;
  let lastStatus = 0;
  for (const metadataUrl of metadataUrls(issuer)) {
    const probe = new DeviceGateClient({ ...clientOptions, baseUrl: issuer, endpoints: { metadata: metadataUrl } });
    let raw: unknown;
    try {
      raw = await probe.metadata(signal ? { signal } : undefined);
    } catch (error) {
      if (error instanceof OAuthResponseError && (error.status === 404 || error.status === 405 || error.status === 410)) {
        lastStatus = error.status;
        continue;
      }
      if (error instanceof OAuthResponseError) {
        throw new DiscoveryError('http_error', `${metadataUrl} answered HTTP ${error.status}`, error.status, { cause: error });
      }
      if (error instanceof SyntaxError) {
        throw new DiscoveryError('invalid_metadata', `${metadataUrl} did not answer JSON`, undefined, { cause: error });
      }
      throw error; // network errors, aborts: the caller decides
    }
    const metadata = validateMetadata(raw, metadataUrl);
    if (metadata.issuer !== issuer) {
      throw new DiscoveryError(
        'issuer_mismatch',
        `the metadata at ${metadataUrl} names the issuer "${metadata.issuer}", not "${issuer}" (RFC 8414 §3.3 requires them to be identical)`,
      );
    }
    const client = new DeviceGateClient({
      ...clientOptions,
      baseUrl: issuer,
      endpoints: {
        metadata: metadataUrl,
        token: metadata.token_endpoint,
        deviceAuthorization: metadata.device_authorization_endpoint ?? null,
        revocation: metadata.revocation_endpoint ?? null,
        introspection: metadata.introspection_endpoint ?? null,
      },
    });
    return { metadata, metadataUrl, client };
  }
  throw new DiscoveryError('not_found', `no authorization server metadata for ${issuer} (tried ${metadataUrls(issuer).join(', ')})`, lastStatus);
}

const URL_FIELDS = ['token_endpoint', 'device_authorization_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'jwks_uri'] as const;

/** openapi-fetch does not validate responses; another server's metadata is checked here before use. */
function validateMetadata(raw: unknown, metadataUrl: string): DiscoveredMetadata {
  const invalid = (what: string) => new DiscoveryError('invalid_metadata', `invalid metadata at ${metadataUrl}: ${what}`);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('not a JSON object');
  const record = raw as Record<string, unknown>;
  if (typeof record.issuer !== 'string' || !record.issuer) throw invalid('issuer is missing');
  if (record.token_endpoint === undefined) throw invalid('token_endpoint is missing');
  for (const field of URL_FIELDS) {
    const value = record[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !URL.canParse(value)) throw invalid(`${field} is not a URL`);
  }
  return record as DiscoveredMetadata;
}

