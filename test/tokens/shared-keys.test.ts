import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { ConfigError } from '../../src/config.js';
import { SealedBox } from '../../src/tokens/sealed-box.js';
import { ensureKeyring, ensureSharedSessionKey, KeyringFollower, rotateKeyring } from '../../src/tokens/shared-keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

const SECRET = 'shared-keys-test-secret-0123456789abcdef';
const rotation = { refresh_interval: 30, activation_delay: 60, clock_skew: 10, rotate_after: 0 };
const TTL_S = 600;
const policy = { activationDelayMs: 60_000, retireAfterActivationMs: (TTL_S + 10) * 1000 };

describe('SealedBox (AES-256-GCM under an HKDF key from DEVICEGATE_SECRET)', () => {
  const box = new SealedBox(SECRET);
  it('opens what it sealed, in the same slot only', () => {
    const sealed = box.seal('private key', 'signing-key:a');
    expect(sealed).not.toContain('private');
    expect(box.open(sealed, 'signing-key:a')).toBe('private key');
    expect(box.open(sealed, 'signing-key:b')).toBeNull();
    expect(box.open(sealed, 'session-key')).toBeNull();
  });
  it('refuses another secret, a tampered box and garbage', () => {
    const sealed = box.seal('private key', 'slot');
    expect(new SealedBox(`${SECRET}-other`).open(sealed, 'slot')).toBeNull();
    const bytes = Buffer.from(sealed.slice(3), 'base64url');
    bytes[14] = bytes[14]! ^ 1;
    expect(box.open(`v1.${bytes.toString('base64url')}`, 'slot')).toBeNull();
    expect(box.open('v1.', 'slot')).toBeNull();
    expect(box.open('not a box', 'slot')).toBeNull();
  });
  it('refuses a secret under 32 characters', () => {
    expect(() => new SealedBox('short')).toThrow(ConfigError);
  });
});

describe('the keyring shared through Redis', () => {
  let redis: TestRedis;
  let connection: Redis;
  beforeAll(async () => {
    redis = await startTestRedis();
    connection = new Redis(redis.url);
  });
  afterAll(async () => {
    await connection?.quit();
    await redis?.close();
  });
  const location = () => ({ redis: connection, keyPrefix: redis.prefix(), box: new SealedBox(SECRET) });

  it('is created once when many instances start together, and stores no private key in the clear', async () => {
    const at = location();
    const texts = await Promise.all(Array.from({ length: 8 }, () => ensureKeyring(at, Date.now())));
    expect(new Set(texts).size).toBe(1);
    const stored = JSON.parse(texts[0]!) as { keys: { public: Record<string, string>; sealed: string }[] };
    expect(stored.keys).toHaveLength(1);
    expect(stored.keys[0]!.public.d).toBeUndefined();
    expect(texts[0]).not.toMatch(/"d"\s*:/);
    const sessionKeys = await Promise.all(Array.from({ length: 4 }, () => ensureSharedSessionKey(at)));
    expect(sessionKeys.every((key) => key.equals(sessionKeys[0]!) && key.length === 32)).toBe(true);
  });

  it('refuses to start with another secret, naming DEVICEGATE_SECRET', async () => {
    const at = location();
    await ensureKeyring(at, Date.now());
    await ensureSharedSessionKey(at);
    const clock = new ManualClock(Date.now());
    const other = { ...at, box: new SealedBox(`${SECRET}-but-another`) };
    await expect(KeyringFollower.start({ ...other, clock, rotation, accessTokenTtlSeconds: TTL_S })).rejects.toThrow(/DEVICEGATE_SECRET/);
    await expect(ensureSharedSessionKey(other)).rejects.toThrow(/DEVICEGATE_SECRET/);
  });

  it('rotates once when several instances rotate together; publish, then sign, then retire on schedule', async () => {
    const at = location();
    const clock = new ManualClock(Date.now());
    const follower = await KeyringFollower.start({ ...at, clock, rotation, accessTokenTtlSeconds: TTL_S });
    try {
      const oldKid = follower.current().signing.kid;
      const outcomes = await Promise.all(Array.from({ length: 4 }, () => rotateKeyring(at, policy, clock.now())));
      const rotated = outcomes.filter((outcome) => outcome.kind === 'rotated');
      expect(rotated).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome.kind === 'pending')).toHaveLength(3);
      const newKid = rotated[0]!.kind === 'rotated' ? rotated[0]!.kid : '';

      await follower.refresh();
      // Published at once, not yet signing.
      expect(follower.current().signing.kid).toBe(oldKid);
      expect(follower.current().publicJwks.keys.map((key) => key.kid)).toEqual([oldKid, newKid]);
      // Signs from activation on, even without another re-read; the old key stays published.
      clock.advance(policy.activationDelayMs);
      expect(follower.current().signing.kid).toBe(newKid);
      expect(follower.current().publicJwks.keys.map((key) => key.kid)).toEqual([newKid, oldKid]);
      // Unpublished once the last token it signed has expired (access_token_ttl + clock_skew).
      clock.advance(policy.retireAfterActivationMs - 1);
      expect(follower.current().publicJwks.keys.map((key) => key.kid)).toEqual([newKid, oldKid]);
      clock.advance(1);
      expect(follower.current().publicJwks.keys.map((key) => key.kid)).toEqual([newKid]);
      // The next rotation prunes the retired key from Redis too.
      const next = await rotateKeyring(at, policy, clock.now());
      expect(next.kind).toBe('rotated');
      const stored = JSON.parse((await connection.get(`${at.keyPrefix}keyring`))!) as { keys: { kid: string }[] };
      expect(stored.keys.map((key) => key.kid)).not.toContain(oldKid);
    } finally {
      follower.close();
    }
  });

  it('rotates automatically by age: one rotation however many instances notice', async () => {
    const at = location();
    const clock = new ManualClock(Date.now());
    const auto = { ...rotation, rotate_after: 3_600 };
    const followers = await Promise.all(
      [1, 2, 3].map(() => KeyringFollower.start({ ...at, clock, rotation: auto, accessTokenTtlSeconds: TTL_S })),
    );
    try {
      const first = followers[0]!.current().signing.kid;
      await Promise.all(followers.map((follower) => follower.refresh()));
      expect(followers[0]!.current().publicJwks.keys).toHaveLength(1); // not due yet
      clock.advance(3_600_000);
      await Promise.all(followers.map((follower) => follower.refresh()));
      for (const follower of followers) expect(follower.current().publicJwks.keys).toHaveLength(2);
      clock.advance(rotation.activation_delay * 1000);
      const kids = new Set(followers.map((follower) => follower.current().signing.kid));
      expect(kids.size).toBe(1);
      expect(kids.has(first)).toBe(false);
    } finally {
      for (const follower of followers) follower.close();
    }
  });

  it('signs on an instance whose clock is a little behind the one that created the keyring', async () => {
    const at = location();
    await ensureKeyring(at, Date.now());
    const behind = new ManualClock(Date.now() - 5_000);
    const follower = await KeyringFollower.start({ ...at, clock: behind, rotation, accessTokenTtlSeconds: TTL_S });
    try {
      expect(follower.current().publicJwks.keys).toHaveLength(1);
      expect(follower.current().signing.kid).toBe(follower.current().publicJwks.keys[0]!.kid);
    } finally {
      follower.close();
    }
  });

  it('keeps signing with the last view while Redis is unreachable', async () => {
    const at = location();
    const clock = new ManualClock(Date.now());
    const own = new Redis(redis.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    own.on('error', () => {});
    await own.connect();
    const logged: string[] = [];
    const follower = await KeyringFollower.start({
      ...at,
      redis: own,
      clock,
      rotation,
      accessTokenTtlSeconds: TTL_S,
      log: (event) => logged.push(event.event),
    });
    try {
      const kid = follower.current().signing.kid;
      own.disconnect();
      await follower.refresh();
      await follower.refresh();
      expect(follower.current().signing.kid).toBe(kid);
      expect(logged).toEqual(['keyring_refresh_failed']); // once, not per re-read
    } finally {
      follower.close();
    }
  });
});
