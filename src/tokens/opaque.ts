import { hash } from 'node:crypto';
import { pooledRandomBytes } from '../domain/random.js';

/**
 * An opaque bearer token (refresh tokens): 32 random bytes, base64url (43 characters), i.e. 256 bits,
 * far beyond RFC 6749 §10.10's guessing bound. Only its hash is stored.
 */
export function generateOpaqueToken(): string {
  return pooledRandomBytes(32).toString('base64url');
}

/**
 * What the store keeps instead of the token: SHA-256, base64url. A fast unsalted hash is enough for a
 * 256-bit random secret (no dictionary to attack), and it lets the store look the token up by its hash.
 */
export function hashOpaqueToken(token: string): string {
  // One-shot crypto.hash: no Hash object per call (this runs on every poll).
  return hash('sha256', token, 'base64url');
}
