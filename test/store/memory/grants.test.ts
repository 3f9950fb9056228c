import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/domain/clock.js';
import { MemoryDeviceGrantRepository } from '../../../src/store/memory/grants.js';
import { EXPIRED_GRANT_TOMBSTONE_MS } from '../../../src/domain/device-grant.js';
import { pendingGrant, stored } from '../../support/grants.js';
import { repositoryContract } from '../grant-repository.contract.js';

repositoryContract('memory', async () => {
  const clock = new ManualClock();
  return { repository: new MemoryDeviceGrantRepository(clock), clock };
});

describe('memory repository expiry (injected clock)', () => {
  it('keeps an expired grant as a tombstone, then forgets it and frees its user code', async () => {
    const clock = new ManualClock();
    const repository = new MemoryDeviceGrantRepository(clock);
    const grant = pendingGrant(clock.now());
    await repository.create(stored(grant), clock.now());

    clock.set(grant.expiresAt + 1);
    expect(await repository.findByUserCode(grant.userCode)).toEqual(stored(grant));

    clock.set(grant.expiresAt + EXPIRED_GRANT_TOMBSTONE_MS);
    expect(await repository.findByUserCode(grant.userCode)).toBeNull();
    expect(await repository.findByDeviceCodeHash(grant.deviceCodeHash)).toBeNull();

    const reuse = pendingGrant(clock.now(), { userCode: grant.userCode });
    expect(await repository.create(stored(reuse), clock.now())).toBe(true);
    await repository.close();
  });

  it('hands out frozen snapshots, so callers cannot change stored state', async () => {
    const clock = new ManualClock();
    const repository = new MemoryDeviceGrantRepository(clock);
    const grant = pendingGrant(clock.now());
    const scope = [...grant.scope];
    await repository.create({ ...stored(grant), scope }, clock.now());
    scope.push('changed-after-create');
    const snapshot = (await repository.findByUserCode(grant.userCode)) as unknown as { scope: string[]; status: string };
    expect(() => snapshot.scope.push('admin')).toThrow(TypeError);
    expect(() => {
      snapshot.status = 'approved';
    }).toThrow(TypeError);
    expect((await repository.findByUserCode(grant.userCode))?.scope).toEqual(grant.scope);
    await repository.close();
  });
});
