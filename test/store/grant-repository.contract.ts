import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../src/domain/clock.js';
import type { DeviceGrantRepository } from '../../src/domain/grant-repository.js';
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

    describe('poll (RFC 8628 §3.4-3.5)', () => {
      async function created(overrides = {}) {
        const now = subject.clock.now();
        const grant = pendingGrant(now, overrides);
        await subject.repository.create(stored(grant), now);
        return grant;
      }
      const poll = (grant: { deviceCodeHash: string }, clientId = 'demo-cli') =>
        subject.repository.poll(grant.deviceCodeHash, clientId, subject.clock.now());

      it('answers authorization_pending and records the poll time', async () => {
        const grant = await created();
        expect(await poll(grant)).toEqual({ kind: 'authorization_pending' });
        expect((await subject.repository.findByDeviceCodeHash(grant.deviceCodeHash))?.lastPolledAt).toBe(subject.clock.now());
      });

      it('answers invalid_grant for an unknown code and for another client, and records nothing', async () => {
        const grant = await created();
        expect(await subject.repository.poll('unknown', 'demo-cli', subject.clock.now())).toEqual({ kind: 'invalid_grant' });
        expect(await poll(grant, 'other-client')).toEqual({ kind: 'invalid_grant' });
        expect((await subject.repository.findByDeviceCodeHash(grant.deviceCodeHash))?.lastPolledAt).toBeNull();
      });

      it('slow_down adds 5 s, persisted, and a client that honours the new interval is never slowed again', async () => {
        const grant = await created();
        await poll(grant);
        subject.clock.advance(2_000);
        expect(await poll(grant)).toEqual({ kind: 'slow_down', interval: 10 });
        expect((await subject.repository.findByDeviceCodeHash(grant.deviceCodeHash))?.interval).toBe(10);
        for (let i = 0; i < 50; i++) {
          subject.clock.advance(10_000);
          expect(await poll(grant)).toEqual({ kind: 'authorization_pending' });
        }
        expect((await subject.repository.findByDeviceCodeHash(grant.deviceCodeHash))?.interval).toBe(10);
      });

      it('adds 5 s on every slow_down, for this and all later requests', async () => {
        const grant = await created();
        await poll(grant);
        subject.clock.advance(1_000);
        expect(await poll(grant)).toEqual({ kind: 'slow_down', interval: 10 });
        subject.clock.advance(1_000);
        expect(await poll(grant)).toEqual({ kind: 'slow_down', interval: 15 });
        subject.clock.advance(9_000); // honours 10 s, but the interval is 15 s now
        expect(await poll(grant)).toEqual({ kind: 'slow_down', interval: 20 });
        subject.clock.advance(20_000);
        expect(await poll(grant)).toEqual({ kind: 'authorization_pending' });
      });

      it('allows 1 s of jitter (20 % of the interval at most) before slow_down', async () => {
        const grant = await created();
        await poll(grant);
        subject.clock.advance(4_000); // interval 5 s, 1 s early: tolerated
        expect(await poll(grant)).toEqual({ kind: 'authorization_pending' });
        subject.clock.advance(3_999); // 1.001 s early
        expect(await poll(grant)).toEqual({ kind: 'slow_down', interval: 10 });
      });

      it('answers access_denied after denial, on every later poll', async () => {
        const grant = await created();
        expect(await subject.repository.decide(grant.userCode, { kind: 'deny' }, subject.clock.now())).toBe('denied');
        expect(await poll(grant)).toEqual({ kind: 'access_denied' });
        subject.clock.advance(5_000);
        expect(await poll(grant)).toEqual({ kind: 'access_denied' });
      });

      it('hands an approved grant out once, then answers invalid_grant', async () => {
        const grant = await created();
        await poll(grant);
        const outcome = await subject.repository.decide(grant.userCode, { kind: 'approve', subject: 'alice' }, subject.clock.now());
        expect(outcome).toBe('approved');
        subject.clock.advance(5_000);
        const approved = await poll(grant);
        expect(approved).toEqual({
          kind: 'approved',
          grant: {
            ...stored(grant),
            status: 'consumed',
            subject: 'alice',
            decidedAt: subject.clock.now() - 5_000,
            lastPolledAt: subject.clock.now(),
          },
        });
        subject.clock.advance(5_000);
        expect(await poll(grant)).toEqual({ kind: 'invalid_grant' });
      });

      it('of 150 concurrent polls after approval, exactly one gets the grant', async () => {
        const grant = await created();
        await subject.repository.decide(grant.userCode, { kind: 'approve', subject: 'alice' }, subject.clock.now());
        const outcomes = await Promise.all(Array.from({ length: 150 }, () => poll(grant)));
        const kinds = outcomes.map((o) => o.kind);
        expect(kinds.filter((k) => k === 'approved')).toHaveLength(1);
        expect(kinds.filter((k) => k === 'invalid_grant')).toHaveLength(149);
      });

      it('answers expired_token after expires_in, approved or not', async () => {
        const pending = await created();
        const approved = await created();
        await subject.repository.decide(approved.userCode, { kind: 'approve', subject: 'alice' }, subject.clock.now());
        subject.clock.set(pending.expiresAt);
        expect(await poll(pending)).toEqual({ kind: 'expired_token' });
        expect(await poll(approved)).toEqual({ kind: 'expired_token' });
      });
    });

    describe('decide', () => {
      it('approves once, records who and when, and keeps every requested scope', async () => {
        const now = subject.clock.now();
        const grant = pendingGrant(now);
        await subject.repository.create(stored(grant), now);
        expect(await subject.repository.decide(grant.userCode, { kind: 'approve', subject: 'alice' }, now)).toBe('approved');
        expect(await subject.repository.findByUserCode(grant.userCode)).toEqual({
          ...stored(grant),
          status: 'approved',
          subject: 'alice',
          decidedAt: now,
        });
        expect(await subject.repository.decide(grant.userCode, { kind: 'deny' }, now)).toBe('already_decided');
      });

      it('answers not_found for an unknown code and expired after expiry', async () => {
        const now = subject.clock.now();
        const grant = pendingGrant(now);
        await subject.repository.create(stored(grant), now);
        expect(await subject.repository.decide('BCDFGHJK', { kind: 'deny' }, now)).toBe('not_found');
        expect(await subject.repository.decide(grant.userCode, { kind: 'deny' }, grant.expiresAt)).toBe('expired');
        expect((await subject.repository.findByUserCode(grant.userCode))?.status).toBe('pending');
      });
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
