/**
 * RFC 9728 OAuth 2.0 Protected Resource Metadata: how a client (an MCP host) that got a 401 learns
 * which authorization server issues tokens for this resource.
 */

export const PROTECTED_RESOURCE_WELL_KNOWN = '/.well-known/oauth-protected-resource';

/** RFC 9728 §2, the fields devicegate's helper publishes. */
export interface ProtectedResourceMetadata {
  /** The resource identifier; clients check that it equals the resource they asked for (§3.3). */
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  /** RFC 6750 §2.1 header only: tokens in query strings end up in logs, form bodies are not used by MCP. */
  readonly bearer_methods_supported: readonly ['header'];
  readonly scopes_supported?: readonly string[];
  readonly resource_name?: string;
  readonly resource_documentation?: string;
}

/**
 * RFC 9728 §3.1: the metadata URL of a resource is its origin + `/.well-known/oauth-protected-resource`
 * + the resource's path (a path of `/` adds nothing). `https://mcp.example.com/mcp` →
 * `https://mcp.example.com/.well-known/oauth-protected-resource/mcp`. The same rule as the MCP SDK's
 * `getOAuthProtectedResourceMetadataUrl`, which its clients follow.
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}${PROTECTED_RESOURCE_WELL_KNOWN}${path}${url.search}`;
}

/**
 * The request paths that serve the metadata: the path-suffixed form (RFC 9728 §3.1) and the bare
 * well-known path, which clients such as the MCP SDK try when the suffixed one fails. A host serving
 * several resources must not rely on the bare form (it can describe only one of them).
 */
export function protectedResourceMetadataPaths(resource: string): readonly string[] {
  const suffixed = new URL(protectedResourceMetadataUrl(resource)).pathname;
  return [...new Set([suffixed, PROTECTED_RESOURCE_WELL_KNOWN])];
}
