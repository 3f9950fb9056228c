import { Redis } from 'ioredis';
import { keyBuilder, limiterKeyPrefix } from '../../../src/store/redis/key-names.js';
import type { GrantFloodLimit } from '../../../src/domain/grant-repository.js';
import { userCodeRoutingTag } from '../../../src/domain/codes.js';
import { keySlot } from '../../support/redis-cluster.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/domain/clock.js';
import { TemporarilyUnavailableError } from '../../../src/domain/errors.js';
import { RedisDeviceGrantRepository } from '../../../src/store/redis/grants.js';
import { EXPIRED_GRANT_TOMBSTONE_MS } from '../../../src/domain/device-grant.js';
import { pendingGrant, stored } from '../../support/grants.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';
import { repositoryContract } from '../grant-repository.contract.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis.close();
});

repositoryContract('redis', async () => ({
  repository: await RedisDeviceGrantRepository.connect(redis.url, { keyPrefix: redis.prefix() }),
  clock: new ManualClock(Date.now()),
}));

describe('redis repository: keys, TTL, round trips', () => {
  let inspector: Redis;
  beforeAll(() => {
    inspector = new Redis(redis.url);
  });
  afterAll(() => inspector.quit());

  it('writes exactly two keys, with one shared TTL of expiry plus tombstone, and no raw device_code', async () => {
    const prefix = redis.prefix();
    const repository = await RedisDeviceGrantRepository.connect(redis.url, { keyPrefix: prefix });
    const now = Date.now();
    const grant = pendingGrant(now);
    await repository.create(stored(grant), now);

    const keys = (await inspector.keys(`${prefix}*`)).sort();
    const tag = userCodeRoutingTag(grant.userCode);
    expect(grant.deviceCodeHash.startsWith(`${tag}.`)).toBe(true);
    const grantKey = `${prefix}g:{${tag}}${grant.deviceCodeHash.slice(tag.length + 1)}`;
    const indexKey = `${prefix}uc:{${tag}}${grant.userCode}`;
    expect(keys).toEqual([grantKey, indexKey].sort());
    // One hash tag: the two keys share a Redis Cluster slot.
    expect(keySlot(grantKey)).toBe(keySlot(indexKey));
    // The digest alone: the tag is the index key's own (and 43 bytes keep it an embedded string).
    expect(await inspector.get(indexKey)).toBe(grant.deviceCodeHash.slice(tag.length + 1));
    expect(await inspector.object('ENCODING', indexKey)).toBe('embstr');

    const [grantTtl, indexTtl] = await Promise.all([inspector.pttl(grantKey), inspector.pttl(indexKey)]);
    const retention = grant.expiresAt - now + EXPIRED_GRANT_TOMBSTONE_MS;
    expect(grantTtl).toBeGreaterThan(retention - 2_000);
    expect(grantTtl).toBeLessThanOrEqual(retention);
    expect(Math.abs(grantTtl - indexTtl)).toBeLessThan(50);

    const everything = JSON.stringify([keys, await inspector.hgetall(grantKey), await inspector.get(indexKey)]);
    expect(everything).not.toContain(grant.deviceCode);
    await repository.close();
  });

  it('keeps a grant with a 256-character user agent and long scope and resources a listpack (every value under 64 bytes)', async () => {
    const prefix = redis.prefix();
    const repository = await RedisDeviceGrantRepository.connect(redis.url, { keyPrefix: prefix });
    const now = Date.now();
    const grant = pendingGrant(now, {
      scope: Array.from({ length: 12 }, (_, i) => `scope-number-${i}`),
      resource: ['https://mcp.example.com/a/very/long/path/to/a/resource/server/that/goes/on', 'https://other.example.com/api'],
      requester: { ip: '2001:db8:85a3:1234:5678:8a2e:370:7334', userAgent: 'Mozilla/5.0 é€ '.repeat(16).slice(0, 256) },
    });
    await repository.create(stored(grant), now);
    const grantKey = keyBuilder(prefix).grant(grant.deviceCodeHash);
    expect(await inspector.object('ENCODING', grantKey)).toBe('listpack');
    for (const value of Object.values(await inspector.hgetall(grantKey))) expect(Buffer.byteLength(value)).toBeLessThan(64);
    expect(await repository.findByDeviceCodeHash(grant.deviceCodeHash)).toEqual(stored(grant));
    expect(await repository.findByUserCode(grant.userCode)).toEqual(stored(grant));
    await repository.decide(grant.userCode, { kind: 'approve', subject: 'alice' }, now);
    const approved = await repository.poll(grant.deviceCodeHash, 'demo-cli', now);
    expect(approved).toEqual({ kind: 'approved', grant: { ...stored(grant), status: 'consumed', subject: 'alice', decidedAt: now, lastPolledAt: now } });
    expect(await inspector.object('ENCODING', grantKey)).toBe('listpack');
    await repository.close();
  });

  // INFO commandstats is only exact on a private server (no REDIS_URL fallback).
  it('creates a grant in one round trip (one EVALSHA)', async () => {
    const repository = await RedisDeviceGrantRepository.connect(redis.url, { keyPrefix: redis.prefix() });
    const now = Date.now();
    await repository.create(stored(pendingGrant(now)), now); // loads the script (EVALSHA → NOSCRIPT → EVAL once)
    await inspector.config('RESETSTAT');
    await repository.create(stored(pendingGrant(now)), now);
    const stats = await inspector.info('commandstats');
    const calls = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    expect(calls('evalsha')).toBe(1);
    expect(calls('eval')).toBe(0);
    expect(calls('set')).toBe(1); // inside the script: the user-code index with NX
    expect(calls('hset')).toBe(1);
    expect(calls('pexpire')).toBe(1);
    await repository.close();
  });

  it('polls in one round trip (one EVALSHA), pending or approved', async () => {
    const repository = await RedisDeviceGrantRepository.connect(redis.url, { keyPrefix: redis.prefix() });
    const now = Date.now();
    const pending = pendingGrant(now);
    const approved = pendingGrant(now);
    await repository.create(stored(pending), now);
    await repository.create(stored(approved), now);
    await repository.decide(approved.userCode, { kind: 'approve', subject: 'alice' }, now);
    await repository.poll('warm-up', 'demo-cli', now); // loads the script
    await inspector.config('RESETSTAT');
    expect((await repository.poll(pending.deviceCodeHash, 'demo-cli', now)).kind).toBe('authorization_pending');
    expect((await repository.poll(approved.deviceCodeHash, 'demo-cli', now)).kind).toBe('approved');
    const stats = await inspector.info('commandstats');
    expect(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1]).toBe('2');
    expect(stats).not.toMatch(/cmdstat_eval:/);
    await repository.close();
  });

  it('answers a fast temporarily_unavailable while Redis is down, and recovers when it is back', async () => {
    const repository = await RedisDeviceGrantRepository.connect(redis.url, { keyPrefix: redis.prefix() });
    await redis.stop();
    try {
      const started = Date.now();
      await expect(repository.findByUserCode('BCDFGHJK')).rejects.toBeInstanceOf(TemporarilyUnavailableError);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await redis.start();
    }
    await expect.poll(() => repository.findByUserCode('BCDFGHJK').catch((e) => e), { timeout: 5_000 }).toBeNull();
    await repository.close();
  });
});

/**
 * On a standalone Redis, create-grant.lua also counts the device authorization flood limit
 * (createWithFloodLimit): one EVALSHA per device authorization, in rate-limiter-flexible's own counter
 * keys (src/ui/limiter.ts uses them on the other stores), fixed window per counter.
 */
describe('redis repository: device authorization flood limit in the grant-creation step', () => {
  let inspector: Redis;
  beforeAll(() => {
    inspector = new Redis(redis.url);
  });
  afterAll(() => inspector.quit());

  const WINDOW_MS = 60_000;
  const limit = (overrides: Partial<GrantFloodLimit> = {}): GrantFloodLimit => ({
    ipBucket: '203.0.113.7',
    clientId: 'demo-cli',
    perIp: 1_000,
    perClient: 1_000,
    windowMs: WINDOW_MS,
    ...overrides,
  });
  async function repositoryWithKeys() {
    const prefix = redis.prefix();
    const repository = await RedisDeviceGrantRepository.connect(redis.url, { keyPrefix: prefix });
    const keys = keyBuilder(prefix);
    return {
      repository,
      keys,
      ipCounter: keys.deviceAuthorizationCounter('ip', '203.0.113.7'),
      clientCounter: keys.deviceAuthorizationCounter('account', 'demo-cli'),
    };
  }

  it('uses the limiter keys rate-limiter-flexible uses for the same limit', () => {
    const keys = keyBuilder('p:');
    expect(keys.deviceAuthorizationCounter('ip', '203.0.113.7')).toBe(`${limiterKeyPrefix('p:', 'device_authorization', 'ip')}:203.0.113.7`);
    expect(keys.deviceAuthorizationCounter('account', 'demo-cli')).toBe(`${limiterKeyPrefix('p:', 'device_authorization', 'account')}:demo-cli`);
  });

  it('stores the grant and counts both windows in one round trip (one EVALSHA)', async () => {
    const { repository, keys, ipCounter, clientCounter } = await repositoryWithKeys();
    const now = Date.now();
    await repository.createWithFloodLimit!(stored(pendingGrant(now)), now, limit({ clientId: 'warm-up' })); // loads the script
    await inspector.config('RESETSTAT');
    const grant = pendingGrant(now);
    expect(await repository.createWithFloodLimit!(stored(grant), now, limit())).toBe(true);
    const stats = await inspector.info('commandstats');
    const calls = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    expect(calls('evalsha')).toBe(1);
    expect(calls('eval')).toBe(0);
    expect(calls('incr')).toBe(2);
    expect(await repository.findByDeviceCodeHash(grant.deviceCodeHash)).toEqual(stored(grant));
    expect(await inspector.exists(keys.grant(grant.deviceCodeHash), keys.userCodeIndex(grant.userCode))).toBe(2);
    // The IP counter had the warm-up's hit already; a fixed window: its TTL was set by the first hit only.
    expect(await inspector.get(ipCounter)).toBe('2');
    expect(await inspector.get(clientCounter)).toBe('1');
    for (const counter of [ipCounter, clientCounter]) {
      const ttl = await inspector.pttl(counter);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(WINDOW_MS);
    }
    await repository.close();
  });

  it('over a limit writes nothing, answers the remaining window, and gives the other counter its point back', async () => {
    const { repository, keys, ipCounter, clientCounter } = await repositoryWithKeys();
    const now = Date.now();
    for (let i = 0; i < 2; i++) expect(await repository.createWithFloodLimit!(stored(pendingGrant(now)), now, limit({ perClient: 2 }))).toBe(true);
    const refused = pendingGrant(now);
    const outcome = await repository.createWithFloodLimit!(stored(refused), now, limit({ perClient: 2 }));
    expect(outcome).toEqual({ retryAfterMs: expect.any(Number) });
    const { retryAfterMs } = outcome as { retryAfterMs: number };
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(WINDOW_MS);
    expect(await inspector.exists(keys.grant(refused.deviceCodeHash), keys.userCodeIndex(refused.userCode))).toBe(0);
    expect(await inspector.get(ipCounter)).toBe('2'); // refunded: the refused request did not happen
    expect(await inspector.get(clientCounter)).toBe('3'); // the refused counter keeps counting, as rate-limiter-flexible's
    // Another client from the same IP goes on; the IP limit refuses in turn once spent.
    expect(await repository.createWithFloodLimit!(stored(pendingGrant(now)), now, limit({ clientId: 'fast-cli', perIp: 3 }))).toBe(true);
    expect(await repository.createWithFloodLimit!(stored(pendingGrant(now)), now, limit({ clientId: 'fast-cli', perIp: 3 }))).toEqual({
      retryAfterMs: expect.any(Number),
    });
    expect(await inspector.get(keys.deviceAuthorizationCounter('account', 'fast-cli'))).toBe('1');
    await repository.close();
  });

  it('a user-code collision writes nothing and counts nothing (the caller retries with a new code)', async () => {
    const { repository, ipCounter, clientCounter } = await repositoryWithKeys();
    const now = Date.now();
    const first = pendingGrant(now);
    expect(await repository.createWithFloodLimit!(stored(first), now, limit())).toBe(true);
    const sameUserCode = pendingGrant(now, { userCode: first.userCode });
    expect(await repository.createWithFloodLimit!(stored(sameUserCode), now, limit())).toBe(false);
    expect(await repository.findByDeviceCodeHash(sameUserCode.deviceCodeHash)).toBeNull();
    expect(await inspector.get(ipCounter)).toBe('1');
    expect(await inspector.get(clientCounter)).toBe('1');
    await repository.close();
  });

  it('gives a refusing counter without expiry the window, so it cannot refuse forever', async () => {
    const { repository, clientCounter } = await repositoryWithKeys();
    await inspector.set(clientCounter, '5'); // no TTL: written by something else than the limit
    const now = Date.now();
    expect(await repository.createWithFloodLimit!(stored(pendingGrant(now)), now, limit({ perClient: 2 }))).toEqual({ retryAfterMs: WINDOW_MS });
    const ttl = await inspector.pttl(clientCounter);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(WINDOW_MS);
    await repository.close();
  });

  it('a new window starts once the last one has expired', async () => {
    const { repository, clientCounter } = await repositoryWithKeys();
    const now = Date.now();
    const short = limit({ perClient: 1, windowMs: 50 });
    expect(await repository.createWithFloodLimit!(stored(pendingGrant(now)), now, short)).toBe(true);
    expect(await repository.createWithFloodLimit!(stored(pendingGrant(now)), now, short)).not.toBe(true);
    await expect.poll(() => inspector.exists(clientCounter), { timeout: 5_000 }).toBe(0);
    expect(await repository.createWithFloodLimit!(stored(pendingGrant(now)), now, short)).toBe(true);
    await repository.close();
  });
});
