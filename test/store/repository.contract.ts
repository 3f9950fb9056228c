import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import type { DeviceGrantRepository } from '../../src/store/repository.js';
import { pendingGrant, stored } from '../support/grants.js';

export interface RepositoryUnderTest {
  readonly repository: DeviceGrantRepository;
  readonly clock: ManualClock;
}

/** One contract, every implementation: test/store/memory.test.ts and test/store/redis.test.ts run it. */
export function repositoryContract(name: string, open: () => Promise<RepositoryUnderTest>): void {
  describe(`${name}: DeviceGrantRepository contract`, () => {
    let subject: RepositoryUnderTest;
    beforeEach(async () => {
      subject = await open();
    });
    afterEach(async () => {
      await subject.repository.close();
    });

    it('stores a grant that reads back identically by user code and by device code hash', async () => {
      const now = subject.clock.now();
      const grant = pendingGrant(now);
      expect(await subject.repository.create(stored(grant), now)).toBe(true);
      expect(await subject.repository.findByUserCode(grant.userCode)).toEqual(stored(grant));
      expect(await subject.repository.findByDeviceCodeHash(grant.deviceCodeHash)).toEqual(stored(grant));
    });

    it('round-trips empty scope and resource lists and absent requester details', async () => {
      const now = subject.clock.now();
      const grant = pendingGrant(now, { scope: [], resource: [], requester: { ip: null, userAgent: null } });
      await subject.repository.create(stored(grant), now);
      expect(await subject.repository.findByUserCode(grant.userCode)).toEqual(stored(grant));
    });

    it('refuses a user code a live grant holds, and writes nothing for the refused grant', async () => {
      const now = subject.clock.now();
      const first = pendingGrant(now);
      const second = pendingGrant(now, { userCode: first.userCode, clientId: 'other' });
      expect(await subject.repository.create(stored(first), now)).toBe(true);
      expect(await subject.repository.create(stored(second), now)).toBe(false);
      expect(await subject.repository.findByUserCode(first.userCode)).toEqual(stored(first));
      expect(await subject.repository.findByDeviceCodeHash(second.deviceCodeHash)).toBeNull();
    });

    it('finds nothing for unknown codes', async () => {
      expect(await subject.repository.findByUserCode('BCDFGHJK')).toBeNull();
      expect(await subject.repository.findByDeviceCodeHash('unknown')).toBeNull();
    });

    it('keeps distinct grants apart', async () => {
      const now = subject.clock.now();
      const grants = Array.from({ length: 20 }, () => pendingGrant(now));
      await Promise.all(grants.map((grant) => subject.repository.create(stored(grant), now)));
      for (const grant of grants) {
        expect((await subject.repository.findByUserCode(grant.userCode))?.deviceCodeHash).toBe(grant.deviceCodeHash);
      }
    });
  });
}
