import { expect, it } from 'vitest';
import { ManualClock } from '../../../src/domain/clock.js';
import { MemoryAuthorizationCodeRepository } from '../../../src/store/memory/authorization-codes.js';
import { authorizationCode, authorizationCodeRepositoryContract } from '../authorization-code.contract.js';

authorizationCodeRepositoryContract('memory', async () => {
  const clock = new ManualClock(Date.now());
  return { repository: new MemoryAuthorizationCodeRepository(clock), clock };
});

it('forgets expired and long-redeemed codes when swept', async () => {
  const clock = new ManualClock(Date.now());
  const repository = new MemoryAuthorizationCodeRepository(clock, 10);
  const { code: _, ...record } = authorizationCode(clock.now());
  await repository.create(record, clock.now());
  expect(repository.size).toBe(1);
  clock.advance(61_000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(repository.size).toBe(0);
  await repository.close();
});
