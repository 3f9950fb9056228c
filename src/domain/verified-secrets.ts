import { createHmac, randomBytes } from 'node:crypto';
import type { Clock } from './clock.js';

/**
 * Confidential-client secrets already verified with scrypt, so that a client presenting its right
 * secret pays one scrypt (~150 ms of CPU) per TTL per process instead of one per request.
 *
 * Why a cache of verified secrets (and not a keyed fast hash in the config): it works for every
 * existing `$scrypt$` client_secret_hash, with no new hash format and no second secret to manage.
 * What it stores is HMAC-SHA256(process-random key, client_id ‖ stored hash ‖ secret): no secret
 * and no offline-attackable hash is kept, the key never leaves the process, and a changed
 * client_secret_hash misses the cache. Only successes are cached: a wrong secret always costs an
 * scrypt, and those are bounded by the failed-client-authentication limiter. Bounded LRU: at most
 * `maxEntries` (each ~100 bytes) for `ttlMs`.
 */
export class VerifiedSecretCache {
  private readonly key = randomBytes(32);
  /** Insertion-ordered: the first entry is the least recently used. */
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly options: { readonly maxEntries: number; readonly ttlMs: number } = { maxEntries: 1024, ttlMs: 15 * 60_000 },
  ) {}

  has(clientId: string, storedHash: string, secret: string): boolean {
    const id = this.id(clientId, storedHash, secret);
    const expiresAt = this.entries.get(id);
    if (expiresAt === undefined) return false;
    this.entries.delete(id);
    if (expiresAt <= this.clock.now()) return false;
    this.entries.set(id, expiresAt); // most recently used last
    return true;
  }

  add(clientId: string, storedHash: string, secret: string): void {
    const id = this.id(clientId, storedHash, secret);
    this.entries.delete(id);
    this.entries.set(id, this.clock.now() + this.options.ttlMs);
    while (this.entries.size > this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }

  private id(clientId: string, storedHash: string, secret: string): string {
    return createHmac('sha256', this.key).update(`${clientId}\0${storedHash}\0${secret}`).digest('base64url');
  }
}
