/**
 * Redirect URI matching for the authorization code flow.
 *
 * OAuth 2.1 §2.3.1 / RFC 9700 §4.1.3: the redirect URI of a request is compared with the registered
 * ones by exact string match — no prefix, no normalisation, no wildcards — because every loosening
 * has been an open redirector or a code-leak somewhere.
 *
 * One exception, RFC 8252 §7.3: a native app receiving the code on a loopback interface cannot know
 * its port before it opens it, so for the loopback IP literals `http://127.0.0.1` and `http://[::1]`
 * the port is ignored; scheme, host literal, path and query must still match exactly.
 *
 * `localhost` is NOT given that exception: RFC 8252 §8.3 says loopback redirects SHOULD use the IP
 * literal, because `localhost` can be resolved by the system (or hijacked by a hosts file / DNS) to a
 * non-loopback interface, and listening on it may open the port to other hosts. A registered
 * `http://localhost:PORT/…` therefore matches only exactly, port included.
 */

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]']);

/** True when `requested` equals one of `registered` (or matches it under the loopback port rule). */
export function redirectUriMatches(requested: string, registered: readonly string[]): boolean {
  return registered.some((candidate) => candidate === requested || loopbackMatch(requested, candidate));
}

/** `http://127.0.0.1:{any port}/path?query` or `http://[::1]:{any port}/…`: the RFC 8252 §7.3 form. */
export function isLoopbackRedirectUri(uri: string): boolean {
  return withoutPort(uri) !== null;
}

function loopbackMatch(requested: string, registered: string): boolean {
  const a = withoutPort(requested);
  return a !== null && a === withoutPort(registered);
}

/**
 * The URI with its port removed, or null when it is not a plain loopback-IP `http` URI. Only URIs
 * that are already in the WHATWG-serialised form count: otherwise parsing would normalise
 * (`/a/../b`, `%7e`, upper-case host…) and two different strings could match, which is exactly what
 * exact matching forbids. Userinfo and fragments (RFC 6749 §3.1.2) are refused.
 */
function withoutPort(uri: string): string | null {
  if (!URL.canParse(uri)) return null;
  const url = new URL(uri);
  if (url.href !== uri && `${url.origin}${url.pathname === '/' ? '' : url.pathname}${url.search}` !== uri) return null;
  if (url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname)) return null;
  if (url.username !== '' || url.password !== '' || url.hash !== '' || uri.includes('#')) return null;
  url.port = '';
  return url.href;
}
