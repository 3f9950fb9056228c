import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDEEMED_CODE_RETENTION_MS } from '../../../src/domain/authorization-code.js';
import { ManualClock } from '../../../src/domain/clock.js';
import { TemporarilyUnavailableError } from '../../../src/domain/errors.js';
import { RedisAuthorizationCodeRepository } from '../../../src/store/redis/authorization-codes.js';
import { authorizationCodeKeyBuilder } from '../../../src/store/redis/key-names.js';
import { connectRedis } from '../../../src/store/redis/connection.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';
import { authorizationCode, authorizationCodeRepositoryContract } from '../authorization-code.contract.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis.close();
});

authorizationCodeRepositoryContract('redis', async () => ({
  repository: await RedisAuthorizationCodeRepository.connect(redis.url, { keyPrefix: redis.prefix() }),
  clock: new ManualClock(Date.now()),
}));

describe('redis authorization codes: keys, TTLs, round trips', () => {
  let inspector: Redis;
  beforeAll(() => {
    inspector = new Redis(redis.url);
  });
  afterAll(() => inspector.quit());

  it('keeps one hashed key per code with the code TTL, then the retention TTL after redemption; never the raw code', async () => {
    const prefix = redis.prefix();
    const keys = authorizationCodeKeyBuilder(prefix);
    const repository = await RedisAuthorizationCodeRepository.connect(redis.url, { keyPrefix: prefix });
    const now = Date.now();
    const { code, ...record } = authorizationCode(now, { expiresAt: now + 45_000 });
    await repository.create(record, now);
    expect(await inspector.keys(`${prefix}*`)).toEqual([keys.authorizationCode(record.codeHash)]);
    const ttl = await inspector.pttl(keys.authorizationCode(record.codeHash));
    expect(ttl).toBeGreaterThan(40_000);
    expect(ttl).toBeLessThanOrEqual(45_000);
    const dump = JSON.stringify(await inspector.hgetall(keys.authorizationCode(record.codeHash)));
    expect(dump).not.toContain(code);
    await repository.redeem(record.codeHash, 'grant-1', now);
    expect(await inspector.hget(keys.authorizationCode(record.codeHash), 'grant_id')).toBe('grant-1');
    expect(await inspector.pttl(keys.authorizationCode(record.codeHash))).toBeGreaterThan(REDEEMED_CODE_RETENTION_MS - 5_000);
    await repository.close();
  });

  it('creates and redeems in one round trip each (one EVALSHA, script cached)', async () => {
    const prefix = redis.prefix();
    const connection = await connectRedis(redis.url);
    const repository = new RedisAuthorizationCodeRepository(connection, authorizationCodeKeyBuilder(prefix));
    const warm = authorizationCode(Date.now());
    const { code: _warm, ...warmRecord } = warm;
    await repository.create(warmRecord, Date.now());
    await repository.redeem(warm.codeHash, 'warm', Date.now());
    const monitor = await inspector.duplicate().monitor();
    const commands: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (String(args[2] ?? '').includes(prefix) || String(args[3] ?? '').includes(prefix)) commands.push(String(args[0]).toLowerCase());
    });
    const { code: _, ...record } = authorizationCode(Date.now());
    await repository.create(record, Date.now());
    await repository.redeem(record.codeHash, 'grant-1', Date.now());
    await new Promise((resolve) => setTimeout(resolve, 100));
    monitor.disconnect();
    expect(commands).toEqual(['evalsha', 'evalsha']);
    await connection.quit();
  });

  it('turns an unreachable Redis into a retryable TemporarilyUnavailableError', async () => {
    const connection = await connectRedis(redis.url);
    const repository = new RedisAuthorizationCodeRepository(connection, authorizationCodeKeyBuilder(redis.prefix()));
    connection.disconnect();
    const { code: _, ...record } = authorizationCode(Date.now());
    await expect(repository.create(record, Date.now())).rejects.toThrow(TemporarilyUnavailableError);
    await expect(repository.redeem(record.codeHash, 'g', Date.now())).rejects.toThrow(TemporarilyUnavailableError);
  });
});
