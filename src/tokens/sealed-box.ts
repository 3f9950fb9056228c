import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from '../config.js';

/**
 * Encrypts the secrets instances share through Redis (private signing JWKs, the session key) under
 * DEVICEGATE_SECRET, so a Redis dump, replica or `MONITOR` hands out no key that can sign.
 *
 * AES-256-GCM from node:crypto rather than jose's JWE: the same AEAD (JWE "dir"+"A256GCM" is exactly
 * this), without a JSON envelope to parse and validate on every read, and the associated data binds
 * each ciphertext to its slot (a sealed session key cannot be replayed as a signing key, nor one
 * kid's key swapped for another's). The 256-bit key comes from HKDF-SHA256 (RFC 5869) over the
 * secret, so an operator's passphrase is never used as a key directly, and another purpose can
 * derive an independent key from the same secret. A random 96-bit nonce per message is safe for
 * the handful of messages ever sealed (NIST SP 800-38D §8.3 allows 2^32 per key).
 *
 * Format: `v1.` base64url(nonce ‖ ciphertext ‖ 16-byte tag).
 */
export class SealedBox {
  private readonly key: Buffer;

  constructor(secret: string) {
    if (secret.length < 32) throw new ConfigError('DEVICEGATE_SECRET must be at least 32 characters');
    this.key = Buffer.from(hkdfSync('sha256', secret, 'devicegate', 'devicegate shared-state encryption v1', 32));
    Object.freeze(this);
  }

  seal(plaintext: string, slot: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(slot, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1.${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}`;
  }

  /** The plaintext, or null when the box was sealed under another secret or slot, or was altered. */
  open(sealed: string, slot: string): string | null {
    if (!sealed.startsWith('v1.')) return null;
    const bytes = Buffer.from(sealed.slice(3), 'base64url');
    if (bytes.length < 12 + 16) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, 12));
      decipher.setAAD(Buffer.from(slot, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }

  /** Never the key in a log line. */
  toJSON(): string {
    return '[SealedBox]';
  }
}
