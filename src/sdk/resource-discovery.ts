import type { RequestOptions } from './client.js';
import { DiscoveryError } from './discovery.js';

/**
 * RFC 9728 protected resource metadata, as far as a client uses it: the resource's identifier and the
 * authorization servers (issuers) that issue tokens for it. Unknown fields are kept.
 */
export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly scopes_supported?: readonly string[];
  readonly bearer_methods_supported?: readonly string[];
  readonly [field: string]: unknown;
}

export interface DiscoveredResource {
  readonly metadata: ProtectedResourceMetadata;
  /** Where the metadata was found. */
  readonly metadataUrl: string;
}

/** One `Bearer` challenge of a `WWW-Authenticate` header (RFC 6750 §3, RFC 9728 §5.1). */
export interface BearerChallenge {
  readonly resource_metadata?: string;
  readonly scope?: string;
  readonly error?: string;
  readonly error_description?: string;
  readonly [param: string]: string | undefined;
}

/**
 * The parameters of the first `Bearer` challenge in a `WWW-Authenticate` header, or null when there is
 * none. RFC 9110 §11.6.1: several challenges may share one header, separated by commas, each
 * `scheme param=value, param="quoted, value"`; the scheme is case-insensitive, so are parameter names.
 */
export function parseBearerChallenge(header: string | null | undefined): BearerChallenge | null {
  if (!header) return null;
  // token68-free tokenizer: scheme names, name=value pairs (quoted strings with \-escapes), commas.
  const pattern = /\s*(?:([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))|([!#$%&'*+.^_`|~0-9A-Za-z-]+))\s*,?/gy;
  let current: Record<string, string> | null = null;
  let inBearer = false;
  for (let match = pattern.exec(header); match?.[0]; match = pattern.exec(header)) {
    const [, name, quoted, bare, scheme] = match;
    if (scheme !== undefined) {
      if (inBearer) break; // the next challenge starts: the Bearer one is complete
      inBearer = scheme.toLowerCase() === 'bearer';
      if (inBearer) current = {};
      continue;
    }
    if (inBearer && current && name) current[name.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : (bare ?? '');
  }
  return current;
}

/**
 * Where the protected resource metadata of `resourceUrl` may be, in the order tried: RFC 9728 §3.1
 * (`/.well-known/oauth-protected-resource` inserted between the host and the path), then, for a URL
 * with a path, the root of the host (the MCP authorization specification's fallback).
 */
export function protectedResourceMetadataUrls(resourceUrl: string): string[] {
  const url = new URL(resourceUrl);
  const path = url.pathname.replace(/\/+$/, '');
  const root = `${url.origin}/.well-known/oauth-protected-resource`;
  return path ? [`${root}${path}`, root] : [root];
}

/**
 * Whether the metadata's `resource` may stand for the URL the client requested. RFC 9728 §3.3 asks
 * for identical values; MCP servers commonly publish their base URL while being reached at a path
 * below it, and the MCP TypeScript SDK accepts that, so this does too: same origin, and the
 * resource's path a prefix of the requested one at a segment boundary. Anything else could be an
 * attacker's metadata steering the client's tokens to another audience, and is refused.
 */
export function resourceCovers(resource: string, requested: string): boolean {
  let a: URL;
  let b: URL;
  try {
    a = new URL(resource);
    b = new URL(requested);
  } catch {
    return false;
  }
  if (a.origin !== b.origin || a.search || a.hash) return false;
  const base = a.pathname.replace(/\/+$/, '');
  const path = b.pathname.replace(/\/+$/, '');
  return path === base || path.startsWith(`${base}/`);
}

export interface ResourceDiscoveryOptions extends RequestOptions {
  readonly fetch?: typeof globalThis.fetch;
  /** The `WWW-Authenticate` header of a 401 from the resource: its `resource_metadata` is tried first. */
  readonly wwwAuthenticate?: string | null;
}

/**
 * RFC 9728 discovery: from a protected resource's URL (and, when there is one, the `WWW-Authenticate`
 * header of its 401 answer) to its metadata, whose `authorization_servers` name the issuers and whose
 * `resource` is the RFC 8707 resource indicator to ask tokens for.
 */
export async function discoverProtectedResource(resourceUrl: string, options: ResourceDiscoveryOptions = {}): Promise<DiscoveredResource> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const challenge = parseBearerChallenge(options.wwwAuthenticate);
  const candidates = [...(challenge?.resource_metadata ? [challenge.resource_metadata] : []), ...protectedResourceMetadataUrls(resourceUrl)];
  let lastStatus = 0;
  for (const metadataUrl of [...new Set(candidates)]) {
    if (!URL.canParse(metadataUrl)) throw new DiscoveryError('invalid_metadata', `the resource_metadata URL is not a URL: ${metadataUrl}`);
    const response = await fetchImpl(metadataUrl, {
      headers: { Accept: 'application/json' },
      redirect: 'error',
      ...(options.signal && { signal: options.signal }),
    });
    if (response.status === 404 || response.status === 405 || response.status === 410) {
      lastStatus = response.status;
      await response.body?.cancel();
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new DiscoveryError('http_error', `${metadataUrl} answered HTTP ${response.status}`, response.status);
    }
    let raw: unknown;
    try {
      raw = await response.json();
    } catch (error) {
      throw new DiscoveryError('invalid_metadata', `${metadataUrl} did not answer JSON`, undefined, { cause: error });
    }
    const metadata = validateResourceMetadata(raw, metadataUrl);
    if (!resourceCovers(metadata.resource, resourceUrl)) {
      throw new DiscoveryError(
        'issuer_mismatch',
        `the protected resource metadata at ${metadataUrl} is for "${metadata.resource}", which does not cover ${resourceUrl} (RFC 9728 §3.3)`,
      );
    }
    return { metadata, metadataUrl };
  }
  throw new DiscoveryError('not_found', `no protected resource metadata for ${resourceUrl} (tried ${[...new Set(candidates)].join(', ')})`, lastStatus);
}

function validateResourceMetadata(raw: unknown, metadataUrl: string): ProtectedResourceMetadata {
  const invalid = (what: string) => new DiscoveryError('invalid_metadata', `invalid protected resource metadata at ${metadataUrl}: ${what}`);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('not a JSON object');
  const record = raw as Record<string, unknown>;
  if (typeof record.resource !== 'string' || !URL.canParse(record.resource)) throw invalid('resource is missing or not a URL');
  const servers = record.authorization_servers;
  // RFC 9728 §2 makes it OPTIONAL, but without it a client cannot know where to get a token.
  if (!Array.isArray(servers) || servers.length === 0) throw invalid('authorization_servers is missing or empty');
  if (!servers.every((issuer) => typeof issuer === 'string' && URL.canParse(issuer))) throw invalid('authorization_servers holds a value that is not a URL');
  if (record.scopes_supported !== undefined && !(Array.isArray(record.scopes_supported) && record.scopes_supported.every((s) => typeof s === 'string'))) {
    throw invalid('scopes_supported is not a list of strings');
  }
  return record as ProtectedResourceMetadata;
}

/**
 * The issuer to use for a protected resource: `wanted` when given (it must be one of the metadata's
 * `authorization_servers`, else the resource does not accept its tokens), else the first listed.
 */
export function chooseIssuer(metadata: ProtectedResourceMetadata, wanted?: string): string {
  if (wanted === undefined) return metadata.authorization_servers[0]!;
  if (!metadata.authorization_servers.includes(wanted)) {
    throw new DiscoveryError(
      'issuer_mismatch',
      `${metadata.resource} accepts tokens from ${metadata.authorization_servers.join(', ')}, not from ${wanted}`,
    );
  }
  return wanted;
}
