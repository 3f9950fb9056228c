import type { BearerTokenError } from './errors.js';
import { InsufficientScopeError } from './errors.js';

/**
 * RFC 6750 §3 `WWW-Authenticate: Bearer …` with RFC 9728 §5.1 `resource_metadata`.
 *
 * Without an error (the request carried no token, or another scheme): no `error` attribute, as RFC 6750
 * §3.1 asks ("SHOULD NOT include an error code"). `scope` names what the resource needs, so a client
 * can ask for it up front (RFC 6750 §3; the MCP spec's scope selection reads it from the 401 challenge).
 */
export function bearerChallenge(options: {
  readonly resourceMetadataUrl: string;
  readonly error?: BearerTokenError | undefined;
  readonly requiredScopes?: readonly string[] | undefined;
}): string {
  const attributes: [string, string][] = [];
  const { error } = options;
  if (error) {
    attributes.push(['error', error.errorCode]);
    if (error.message) attributes.push(['error_description', error.message]);
  }
  const scopes = error instanceof InsufficientScopeError ? error.requiredScopes : (options.requiredScopes ?? []);
  if (scopes.length > 0) attributes.push(['scope', scopes.join(' ')]);
  attributes.push(['resource_metadata', options.resourceMetadataUrl]);
  return `Bearer ${attributes.map(([name, value]) => `${name}="${quoted(value)}"`).join(', ')}`;
}

/**
 * RFC 9110 §5.6.4 quoted-string: escape `\` and `"`; RFC 6750 §3 limits error_description and scope
 * to printable ASCII, so anything else (a control character in a message) is replaced.
 */
function quoted(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, '\\$&');
}
