import { describe, expect, it, vi } from 'vitest';
import { parseConfigFile } from '../../src/config.js';
import { ClientRegistry } from '../../src/domain/clients.js';
import { ManualClock } from '../../src/domain/clock.js';
import { InvalidClientError } from '../../src/domain/errors.js';
import * as password from '../../src/domain/password.js';
import { VerifiedSecretCache } from '../../src/domain/verified-secrets.js';

// Count the scrypt verifications the registry performs (the real function still runs).
vi.mock('../../src/domain/password.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/domain/password.js')>();
  return { ...original, verifySecret: vi.fn(original.verifySecret) };
});
const scryptChecks = () => vi.mocked(password.verifySecret).mock.calls.length;

const SECRET = 'a-generated-client-secret-0123456789';

async function registry(clock = new ManualClock(Date.now()), cache = new VerifiedSecretCache(clock)) {
  const file = parseConfigFile(
    JSON.stringify({
      clients: [
        {
          client_id: 'service',
          token_endpoint_auth_method: 'client_secret_post',
          client_secret_hash: await password.hashSecret(SECRET),
        },
      ],
    }),
  );
  return { clients: new ClientRegistry(file.clients, { verifiedSecrets: cache }), clock, cache, file };
}

describe('confidential-client secrets: one scrypt, then the cache', () => {
  it('verifies a right secret once with scrypt, then without; a wrong secret still fails, every time', async () => {
    const { clients } = await registry();
    const before = scryptChecks();
    await clients.authenticate({ clientId: 'service', clientSecret: SECRET });
    expect(scryptChecks() - before).toBe(1);
    for (let i = 0; i < 5; i++) await clients.authenticate({ clientId: 'service', clientSecret: SECRET });
    expect(scryptChecks() - before).toBe(1);
    await expect(clients.authenticate({ clientId: 'service', clientSecret: `${SECRET}x` })).rejects.toBeInstanceOf(InvalidClientError);
    await expect(clients.authenticate({ clientId: 'service', clientSecret: SECRET.slice(0, -1) })).rejects.toBeInstanceOf(InvalidClientError);
    await expect(clients.authenticate({ clientId: 'service', clientSecret: '' })).rejects.toBeInstanceOf(InvalidClientError);
    expect(scryptChecks() - before).toBe(4);
  });

  it('forgets a secret after its TTL, and when the stored hash changes', async () => {
    const clock = new ManualClock(Date.now());
    const cache = new VerifiedSecretCache(clock, { maxEntries: 10, ttlMs: 60_000 });
    cache.add('service', '$scrypt$one', SECRET);
    expect(cache.has('service', '$scrypt$one', SECRET)).toBe(true);
    expect(cache.has('service', '$scrypt$two', SECRET)).toBe(false);
    expect(cache.has('other', '$scrypt$one', SECRET)).toBe(false);
    clock.advance(60_000);
    expect(cache.has('service', '$scrypt$one', SECRET)).toBe(false);
  });

  it('is bounded: the least recently used entry goes first', async () => {
    const clock = new ManualClock(Date.now());
    const cache = new VerifiedSecretCache(clock, { maxEntries: 2, ttlMs: 60_000 });
    cache.add('a', 'h', 's');
    cache.add('b', 'h', 's');
    expect(cache.has('a', 'h', 's')).toBe(true); // a is now the most recent
    cache.add('c', 'h', 's');
    expect(cache.size).toBe(2);
    expect(cache.has('b', 'h', 's')).toBe(false);
    expect(cache.has('a', 'h', 's')).toBe(true);
    expect(cache.has('c', 'h', 's')).toBe(true);
  });

  it('keeps no secret in memory: entries are keyed HMACs', async () => {
    const { clients, cache } = await registry();
    await clients.authenticate({ clientId: 'service', clientSecret: SECRET });
    expect(cache.size).toBe(1);
    expect(JSON.stringify([...(cache as unknown as { entries: Map<string, number> }).entries.keys()])).not.toContain(SECRET);
  });
});
