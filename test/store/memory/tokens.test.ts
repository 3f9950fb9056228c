import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/domain/clock.js';
import { MemoryTokenRepository } from '../../../src/store/memory/tokens.js';
import { refreshRecord, tokenRepositoryContract } from '../token-repository.contract.js';

tokenRepositoryContract('memory', async () => {
  const clock = new ManualClock();
  return { repository: new MemoryTokenRepository(clock), clock };
});

describe('memory token repository: expiry follows the injected clock', () => {
  it('lists a revoked access token until its own expiry, then forgets it', async () => {
    const clock = new ManualClock();
    const repository = new MemoryTokenRepository(clock);
    const expiresAt = clock.now() + 600_000;
    await repository.revokeAccessToken('jti-1', expiresAt, clock.now());
    clock.set(expiresAt - 1);
    expect(await repository.isAccessTokenRevoked('jti-1')).toBe(true);
    clock.set(expiresAt);
    expect(await repository.isAccessTokenRevoked('jti-1')).toBe(false);
    await repository.close();
  });

  it('a revoked family stays revoked as long as its newest token lives', async () => {
    const clock = new ManualClock();
    const repository = new MemoryTokenRepository(clock);
    const record = refreshRecord(clock.now(), { expiresAt: clock.now() + 10_000 });
    await repository.saveRefreshToken(record, clock.now());
    const result = await repository.rotateRefreshToken(
      { tokenHash: record.tokenHash, clientId: record.clientId, nextTokenHash: 'next', ttlMs: 60_000 },
      clock.now(),
    );
    expect(result.kind).toBe('rotated');
    expect(await repository.revokeRefreshToken('next', record.clientId, clock.now())).toBe(true);
    // Past the first token's expiry the family marker must still be there, refusing the newest token.
    clock.set(record.expiresAt + 1_000);
    expect(await repository.findRefreshToken('next', clock.now())).toBeNull();
    expect(
      await repository.rotateRefreshToken({ tokenHash: 'next', clientId: record.clientId, nextTokenHash: 'n2', ttlMs: 60_000 }, clock.now()),
    ).toEqual({ kind: 'invalid' });
    await repository.close();
  });
});
