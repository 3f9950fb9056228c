import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { keySlot } from '../../support/redis-cluster.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/domain/clock.js';
import { TemporarilyUnavailableError } from '../../../src/domain/errors.js';
import type { RotationResult } from '../../../src/domain/token-repository.js';
import { tokenKeyBuilder } from '../../../src/store/redis/key-names.js';
import { RedisTokenRepository } from '../../../src/store/redis/tokens.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';
import { opaqueToken, REFRESH_TTL_MS, refreshRecord, tokenRepositoryContract } from '../token-repository.contract.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis.close();
});

tokenRepositoryContract('redis', async () => ({
  repository: await RedisTokenRepository.connect(redis.url, { keyPrefix: redis.prefix() }),
  clock: new ManualClock(Date.now()),
}));

describe('redis token repository: keys, TTLs, round trips', () => {
  let inspector: Redis;
  beforeAll(() => {
    inspector = new Redis(redis.url);
  });
  afterAll(() => inspector.quit());

  const expectTtlAbout = (ttl: number, expected: number) => {
    expect(ttl).toBeGreaterThan(expected - 2_000);
    expect(ttl).toBeLessThanOrEqual(expected);
  };

  it('stores hashes, a family marker and TTLs as the README says, and never a raw token', async () => {
    const prefix = redis.prefix();
    const keys = tokenKeyBuilder(prefix);
    const repository = await RedisTokenRepository.connect(redis.url, { keyPrefix: prefix });
    const now = Date.now();
    const familyId = randomUUID();
    const first = opaqueToken(familyId);
    const second = opaqueToken(familyId);
    const record = refreshRecord(now, { familyId, tokenHash: first.hash, expiresAt: now + 3_600_000 });
    await repository.saveRefreshToken(record, now);
    expect(await inspector.pttl(keys.refreshFamily(record.familyId))).toBeGreaterThan(3_600_000 - 2_000);

    const rotation = await repository.rotateRefreshToken(
      { tokenHash: first.hash, clientId: 'demo-cli', nextTokenHash: second.hash, ttlMs: REFRESH_TTL_MS },
      now,
    );
    expect(rotation.kind).toBe('rotated');

    const all = (await inspector.keys(`${prefix}*`)).sort();
    expect(all).toEqual(
      [`${prefix}refresh:{${familyId}}${first.hash.slice(familyId.length + 1)}`, `${prefix}refresh:{${familyId}}${second.hash.slice(familyId.length + 1)}`, `${prefix}refresh_family:{${familyId}}`].sort(),
    );
    expect(all.map((key) => keySlot(key))).toEqual(all.map(() => keySlot(keys.refreshFamily(familyId))));
    expect(await inspector.hgetall(keys.refreshToken(first.hash))).toEqual({
      token_hash: first.hash,
      family_id: record.familyId,
      client_id: 'demo-cli',
      subject: 'user:alice',
      scope: 'openid offline_access mcp:tools',
      resource: '["https://mcp.example.com/","https://other.example.com/api"]',
      created_at: String(now),
      expires_at: String(now + 3_600_000),
      status: 'used',
    });
    expect(await inspector.hgetall(keys.refreshToken(second.hash))).toMatchObject({
      token_hash: second.hash,
      family_id: record.familyId,
      created_at: String(now),
      expires_at: String(now + REFRESH_TTL_MS),
      status: 'active',
    });
    expect(await inspector.get(keys.refreshFamily(record.familyId))).toBe('active');

    // The used token keeps its own TTL (so a replay is detected until then); the family marker
    // follows the newest token.
    expectTtlAbout(await inspector.pttl(keys.refreshToken(first.hash)), 3_600_000);
    expectTtlAbout(await inspector.pttl(keys.refreshToken(second.hash)), REFRESH_TTL_MS);
    expectTtlAbout(await inspector.pttl(keys.refreshFamily(record.familyId)), REFRESH_TTL_MS);

    // Revocation keeps the marker's TTL.
    expect(await repository.revokeRefreshToken(second.hash, 'demo-cli', now)).toBe(true);
    expect(await inspector.get(keys.refreshFamily(record.familyId))).toBe('revoked');
    expectTtlAbout(await inspector.pttl(keys.refreshFamily(record.familyId)), REFRESH_TTL_MS);

    const dump = JSON.stringify(
      await Promise.all(all.map(async (key) => [key, (await inspector.type(key)) === 'hash' ? await inspector.hgetall(key) : await inspector.get(key)])),
    );
    expect(dump).not.toContain(first.token);
    expect(dump).not.toContain(second.token);
    await repository.close();
  });

  it('a shorter rotation never shortens the family marker', async () => {
    const prefix = redis.prefix();
    const keys = tokenKeyBuilder(prefix);
    const repository = await RedisTokenRepository.connect(redis.url, { keyPrefix: prefix });
    const now = Date.now();
    const record = refreshRecord(now);
    await repository.saveRefreshToken(record, now);
    const next = opaqueToken(record.familyId).hash;
    await repository.rotateRefreshToken({ tokenHash: record.tokenHash, clientId: 'demo-cli', nextTokenHash: next, ttlMs: 60_000 }, now);
    expectTtlAbout(await inspector.pttl(keys.refreshToken(next)), 60_000);
    expectTtlAbout(await inspector.pttl(keys.refreshFamily(record.familyId)), REFRESH_TTL_MS);
    await repository.close();
  });

  it('deny-lists a jti with a TTL until the access token expires, and stores nothing for an expired one', async () => {
    const prefix = redis.prefix();
    const keys = tokenKeyBuilder(prefix);
    const repository = await RedisTokenRepository.connect(redis.url, { keyPrefix: prefix });
    const now = Date.now();
    await repository.revokeAccessToken('jti-1', now + 600_000, now);
    await repository.revokeAccessToken('jti-2', now - 1, now);
    expectTtlAbout(await inspector.pttl(keys.revokedJti('jti-1')), 600_000);
    expect(await inspector.exists(keys.revokedJti('jti-2'))).toBe(0);
    expect(await inspector.keys(`${prefix}*`)).toEqual([keys.revokedJti('jti-1')]);
    await repository.close();
  });

  // INFO commandstats is only exact on a private server (no REDIS_URL fallback).
  it('rotates, finds and revokes in one round trip each (one EVALSHA)', async () => {
    const repository = await RedisTokenRepository.connect(redis.url, { keyPrefix: redis.prefix() });
    const now = Date.now();
    const calls = async () => {
      const stats = await inspector.info('commandstats');
      return (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    };
    const save = async () => {
      const record = refreshRecord(now);
      await repository.saveRefreshToken(record, now);
      return record;
    };
    const rotate = (tokenHash: string) =>
      repository.rotateRefreshToken({ tokenHash, clientId: 'demo-cli', nextTokenHash: opaqueToken().hash, ttlMs: REFRESH_TTL_MS }, now);

    // Warm-up: loads every script (EVALSHA → NOSCRIPT → EVAL once each).
    const warm = await save();
    await repository.findRefreshToken(warm.tokenHash, now);
    await rotate(warm.tokenHash);
    await repository.revokeRefreshToken(warm.tokenHash, 'demo-cli', now);
    const record = await save();
    const second = await save();

    await inspector.config('RESETSTAT');
    expect((await rotate(record.tokenHash)).kind).toBe('rotated');
    let count = await calls();
    expect(count('evalsha')).toBe(1);
    expect(count('eval')).toBe(0);
    expect(count('hgetall')).toBe(1); // inside the script
    expect(count('hset')).toBe(2); // the used mark and the next token

    await inspector.config('RESETSTAT');
    expect(await repository.findRefreshToken(second.tokenHash, now)).toEqual(second);
    count = await calls();
    expect([count('evalsha'), count('eval'), count('hgetall'), count('get')]).toEqual([1, 0, 1, 1]);

    await inspector.config('RESETSTAT');
    expect(await repository.revokeRefreshToken(second.tokenHash, 'demo-cli', now)).toBe(true);
    count = await calls();
    expect([count('evalsha'), count('eval'), count('set')]).toEqual([1, 0, 1]);
    await repository.close();
  });

  it('exactly once across connections: 4 connections × 25 rotations of one token', async () => {
    const prefix = redis.prefix();
    const repositories = await Promise.all(
      Array.from({ length: 4 }, () => RedisTokenRepository.connect(redis.url, { keyPrefix: prefix })),
    );
    const now = Date.now();
    const record = refreshRecord(now);
    await repositories[0]!.saveRefreshToken(record, now);
    const results: RotationResult[] = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        repositories[i % 4]!.rotateRefreshToken(
          { tokenHash: record.tokenHash, clientId: 'demo-cli', nextTokenHash: opaqueToken().hash, ttlMs: REFRESH_TTL_MS },
          now,
        ),
      ),
    );
    const kinds = results.map((r) => r.kind);
    expect(kinds.filter((k) => k === 'rotated')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'reused')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'invalid')).toHaveLength(98);
    // Only the winner's next token was written: the presented one, the winner's, and the marker.
    expect(await inspector.keys(`${prefix}*`)).toHaveLength(3);
    await Promise.all(repositories.map((r) => r.close()));
  });

  it('serves from a borrowed connection and leaves it open on close', async () => {
    const connection = new Redis(redis.url);
    const repository = new RedisTokenRepository(connection, tokenKeyBuilder(redis.prefix()));
    const now = Date.now();
    const record = refreshRecord(now);
    await repository.saveRefreshToken(record, now);
    expect(await repository.findRefreshToken(record.tokenHash, now)).toEqual(record);
    await repository.close();
    expect(await connection.ping()).toBe('PONG');
    await connection.quit();
  });

  it('answers a fast temporarily_unavailable while Redis is down, and recovers when it is back', async () => {
    const repository = await RedisTokenRepository.connect(redis.url, { keyPrefix: redis.prefix() });
    const hash = opaqueToken().hash;
    const rotate = () =>
      repository.rotateRefreshToken({ tokenHash: hash, clientId: 'demo-cli', nextTokenHash: opaqueToken().hash, ttlMs: 60_000 }, Date.now());
    await redis.stop();
    try {
      const started = Date.now();
      await expect(rotate()).rejects.toBeInstanceOf(TemporarilyUnavailableError);
      await expect(repository.isAccessTokenRevoked('jti')).rejects.toBeInstanceOf(TemporarilyUnavailableError);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await redis.start();
    }
    // After a restart the scripts are gone from the server: EVALSHA → NOSCRIPT → EVAL reloads them.
    await expect.poll(() => rotate().catch((e) => e), { timeout: 5_000 }).toEqual({ kind: 'invalid' });
    await repository.close();
  });
});
