import { hash } from 'node:crypto';
import { pooledRandomBytes } from './random.js';

/**
 * An opaque bearer token (refresh tokens, device codes): 32 random bytes, base64url (43 characters),
 * i.e. 256 bits, far beyond RFC 6749 §10.10's guessing bound. Only its hash is stored.
 *
 * With a `routingTag`, the token reads `<tag>.<43 random characters>`. The tag is not secret (it is
 * derived from something the holder already has: the user code shown beside a device code, or the
 * family id an access token carries as `grant_id`); it names the Redis Cluster hash slot of the
 * token's keys (src/store/redis/key-names.ts), so a lookup by token alone finds the slot of every key
 * it must touch atomically, without an extra round trip. The token stays opaque to clients (RFC 8628
 * §3.2, RFC 6749 §1.5).
 */
export function generateOpaqueToken(routingTag?: string): string {
  const secret = pooledRandomBytes(32).toString('base64url');
  return routingTag === undefined ? secret : `${routingTag}${TAG_SEPARATOR}${secret}`;
}

const TAG_SEPARATOR = '.';
/** A routing tag: 1–64 base64url characters (never a brace, so it cannot open another hash tag). */
const ROUTING_TAG = /^[A-Za-z0-9_-]{1,64}$/;

export function isRoutingTag(tag: string): boolean {
  return ROUTING_TAG.test(tag);
}

/**
 * What the store keeps instead of the token: SHA-256, base64url, prefixed with the token's routing tag
 * (`<tag>.<digest>`) when it has a well-formed one. A fast unsalted hash is enough for a 256-bit random
 * secret (no dictionary to attack), and it lets the store look the token up by its hash. A token
 * without a well-formed tag (forged, or issued before tags) hashes to a bare digest.
 */
export function hashOpaqueToken(token: string): string {
  // One-shot crypto.hash: no Hash object per call (this runs on every poll).
  const digest = hash('sha256', token, 'base64url');
  const tag = routingTagOf(token);
  return tag === null ? digest : `${tag}${TAG_SEPARATOR}${digest}`;
}

/** The routing tag in front of a token or of its hash (`<tag>.…`), or null when there is none. */
export function routingTagOf(tokenOrHash: string): string | null {
  const end = tokenOrHash.indexOf(TAG_SEPARATOR);
  if (end < 1 || end > 64) return null;
  const tag = tokenOrHash.slice(0, end);
  return ROUTING_TAG.test(tag) ? tag : null;
}

/** A hash split into its routing tag (or null) and digest. */
export function splitTokenHash(tokenHash: string): { tag: string | null; digest: string } {
  const tag = routingTagOf(tokenHash);
  return tag === null ? { tag, digest: tokenHash } : { tag, digest: tokenHash.slice(tag.length + 1) };
}
