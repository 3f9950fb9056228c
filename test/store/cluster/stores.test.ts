import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/domain/clock.js';
import { RedisAuthorizationCodeRepository } from '../../../src/store/redis/authorization-codes.js';
import { connectRedisCluster } from '../../../src/store/redis/connection.js';
import { RedisDeviceGrantRepository } from '../../../src/store/redis/grants.js';
import { authorizationCodeKeyBuilder, keyBuilder, tokenKeyBuilder } from '../../../src/store/redis/key-names.js';
import { RedisTokenRepository } from '../../../src/store/redis/tokens.js';
import { pendingGrant, stored } from '../../support/grants.js';
import { keySlot, startTestRedisCluster, type TestRedisCluster } from '../../support/redis-cluster.js';
import { authorizationCodeRepositoryContract } from '../authorization-code.contract.js';
import { repositoryContract } from '../grant-repository.contract.js';
import { opaqueToken, REFRESH_TTL_MS, refreshRecord, tokenRepositoryContract } from '../token-repository.contract.js';

// One cluster (3 masters + 3 replicas) for the whole file: starting one takes a few seconds.
let cluster: TestRedisCluster;
beforeAll(async () => {
  cluster = await startTestRedisCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.close();
});

repositoryContract('redis cluster', async () => ({
  repository: new RedisDeviceGrantRepository(await connectRedisCluster(cluster.urls), keyBuilder(cluster.prefix())),
  clock: new ManualClock(Date.now()),
}));

tokenRepositoryContract('redis cluster', async () => ({
  repository: new RedisTokenRepository(await connectRedisCluster(cluster.urls), tokenKeyBuilder(cluster.prefix()), { ownsConnection: true }),
  clock: new ManualClock(Date.now()),
}));

authorizationCodeRepositoryContract('redis cluster', async () => ({
  repository: new RedisAuthorizationCodeRepository(await connectRedisCluster(cluster.urls), authorizationCodeKeyBuilder(cluster.prefix()), {
    ownsConnection: true,
  }),
  clock: new ManualClock(Date.now()),
}));

describe('redis cluster: hash tags', () => {
  it('offers no flood-limited create: the limit counters live in other slots than the grant (the limiter counts them)', async () => {
    const repository = new RedisDeviceGrantRepository(await connectRedisCluster(cluster.urls), keyBuilder(cluster.prefix()));
    try {
      expect(repository.createWithFloodLimit).toBeUndefined();
    } finally {
      await repository.close();
    }
  });

  it('computes slots as the cluster does (CLUSTER KEYSLOT), the reference the tag checks rely on', async () => {
    const [host, port] = new URL(cluster.urls[0]!).host.split(':');
    const node = new Redis({ host, port: Number(port) });
    try {
      for (const key of ['foo', 'devicegate:grant:{abcd}xyz', 'user:{}x', '{a}{b}', `devicegate:user_code:{Zz-_}WDJBMJHT`]) {
        expect(keySlot(key)).toBe(await node.call('CLUSTER', 'KEYSLOT', key));
      }
    } finally {
      node.disconnect();
    }
  });

  it('puts grants on every master (tags spread), each grant with its user-code index in one slot', async () => {
    const keys = keyBuilder(cluster.prefix());
    const masters = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const grant = pendingGrant(Date.now());
      const grantKey = keys.grant(grant.deviceCodeHash);
      expect(keySlot(grantKey)).toBe(keySlot(keys.userCodeIndex(grant.userCode)));
      masters.add(await cluster.masterPortFor(grantKey));
    }
    expect(masters.size).toBe(3);
  });

  it('keeps a refresh token, its successors and its family marker in one slot', async () => {
    const prefix = cluster.prefix();
    const keys = tokenKeyBuilder(prefix);
    const repository = new RedisTokenRepository(await connectRedisCluster(cluster.urls), keys, { ownsConnection: true });
    const now = Date.now();
    const record = refreshRecord(now);
    await repository.saveRefreshToken(record, now);
    let current = record.tokenHash;
    for (let i = 0; i < 5; i++) {
      const next = opaqueToken(record.familyId).hash;
      expect((await repository.rotateRefreshToken({ tokenHash: current, clientId: 'demo-cli', nextTokenHash: next, ttlMs: REFRESH_TTL_MS }, now)).kind).toBe('rotated');
      expect(keySlot(keys.refreshToken(next))).toBe(keySlot(keys.refreshFamily(record.familyId)));
      current = next;
    }
    expect(await repository.revokeRefreshToken(current, 'demo-cli', now)).toBe(true);
    expect(await repository.isFamilyRevoked(record.familyId)).toBe(true);
    await repository.close();
  });

  it('answers a forged (untagged or mismatched) refresh token as invalid, never with a cross-slot error', async () => {
    const repository = new RedisTokenRepository(await connectRedisCluster(cluster.urls), tokenKeyBuilder(cluster.prefix()), { ownsConnection: true });
    const now = Date.now();
    const record = refreshRecord(now);
    await repository.saveRefreshToken(record, now);
    const rotate = (tokenHash: string, nextTokenHash: string) =>
      repository.rotateRefreshToken({ tokenHash, clientId: 'demo-cli', nextTokenHash, ttlMs: REFRESH_TTL_MS }, now);
    expect(await rotate(opaqueToken().hash, opaqueToken().hash)).toEqual({ kind: 'invalid' });
    expect(await rotate(record.tokenHash, opaqueToken('another-family').hash)).toEqual({ kind: 'invalid' });
    expect(await repository.findRefreshToken(opaqueToken().hash, now)).toBeNull();
    expect(await repository.revokeRefreshToken(opaqueToken().hash, 'demo-cli', now)).toBe(false);
    // A tagged but unknown token: the scripts run and find nothing.
    expect(await repository.findRefreshToken(opaqueToken('unknown-family').hash, now)).toBeNull();
    // The real token was not spent by any of this.
    expect(await repository.findRefreshToken(record.tokenHash, now)).toEqual(record);
    await repository.close();
  });

  it('polls a forged device_code (no tag) as invalid_grant', async () => {
    const repository = new RedisDeviceGrantRepository(await connectRedisCluster(cluster.urls), keyBuilder(cluster.prefix()));
    const now = Date.now();
    const grant = pendingGrant(now);
    await repository.create(stored(grant), now);
    expect(await repository.poll('not-a-tagged-hash', 'demo-cli', now)).toEqual({ kind: 'invalid_grant' });
    expect((await repository.poll(grant.deviceCodeHash, 'demo-cli', now)).kind).toBe('authorization_pending');
    await repository.close();
  });
});
