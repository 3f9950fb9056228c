import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AUTHORIZATION_CODE_MAX_TTL_MS,
  type AuthorizationCode,
  type AuthorizationCodeRepository,
  generateAuthorizationCode,
  hashAuthorizationCode,
  REDEEMED_CODE_RETENTION_MS,
} from '../../src/domain/authorization-code.js';
import type { ManualClock } from '../../src/domain/clock.js';

export interface AuthorizationCodeRepositoryUnderTest {
  readonly repository: AuthorizationCodeRepository;
  readonly clock: ManualClock;
}

/** A code as the authorization endpoint would mint it (60 s), with overrides; and the raw code. */
export function authorizationCode(now: number, overrides: Partial<AuthorizationCode> = {}): AuthorizationCode & { code: string } {
  const code = generateAuthorizationCode();
  return {
    code,
    codeHash: hashAuthorizationCode(code),
    clientId: 'browser-app',
    redirectUri: 'http://127.0.0.1:49152/callback',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    resource: ['https://mcp.example.com/'],
    scope: ['openid', 'mcp:tools'],
    subject: 'alice',
    createdAt: now,
    expiresAt: now + AUTHORIZATION_CODE_MAX_TTL_MS,
    ...overrides,
  };
}

const stored = ({ code: _, ...record }: AuthorizationCode & { code: string }): AuthorizationCode => record;

/** The behaviour every AuthorizationCodeRepository must have; run once per implementation. */
export function authorizationCodeRepositoryContract(name: string, open: () => Promise<AuthorizationCodeRepositoryUnderTest>): void {
  describe(`authorization code repository contract (${name})`, () => {
    let repository: AuthorizationCodeRepository;
    let clock: ManualClock;
    beforeEach(async () => {
      ({ repository, clock } = await open());
    });
    afterEach(() => repository.close());

    it('redeems a code once, returning exactly what was stored', async () => {
      const code = authorizationCode(clock.now());
      expect(await repository.create(stored(code), clock.now())).toBe(true);
      clock.advance(1_000);
      expect(await repository.redeem(code.codeHash, 'grant-1', clock.now())).toEqual({ kind: 'redeemed', code: stored(code) });
    });

    it('answers a second redemption with the grant id of the first, every time (RFC 6749 §4.1.2)', async () => {
      const code = authorizationCode(clock.now());
      await repository.create(stored(code), clock.now());
      expect((await repository.redeem(code.codeHash, 'grant-first', clock.now())).kind).toBe('redeemed');
      const reused = { kind: 'reused', grantId: 'grant-first', clientId: 'browser-app' };
      expect(await repository.redeem(code.codeHash, 'grant-second', clock.now())).toEqual(reused);
      expect(await repository.redeem(code.codeHash, 'grant-third', clock.now())).toEqual(reused);
    });

    it('still recognises reuse after the code itself has expired, until the retention window ends', async () => {
      const code = authorizationCode(clock.now());
      await repository.create(stored(code), clock.now());
      await repository.redeem(code.codeHash, 'grant-1', clock.now());
      clock.advance(AUTHORIZATION_CODE_MAX_TTL_MS + 1_000);
      expect((await repository.redeem(code.codeHash, 'grant-2', clock.now())).kind).toBe('reused');
      clock.advance(REDEEMED_CODE_RETENTION_MS);
      expect(await repository.redeem(code.codeHash, 'grant-3', clock.now())).toEqual({ kind: 'invalid' });
    });

    it('exactly one of many concurrent redemptions wins; the others learn its grant id', async () => {
      const code = authorizationCode(clock.now());
      await repository.create(stored(code), clock.now());
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => repository.redeem(code.codeHash, `grant-${i}`, clock.now())));
      const winners = results.filter((result) => result.kind === 'redeemed');
      expect(winners).toHaveLength(1);
      const winnerIndex = results.findIndex((result) => result.kind === 'redeemed');
      for (const [i, result] of results.entries()) {
        if (i !== winnerIndex) expect(result).toEqual({ kind: 'reused', grantId: `grant-${winnerIndex}`, clientId: 'browser-app' });
      }
    });

    it('refuses an expired code, and the expiry instant itself', async () => {
      const code = authorizationCode(clock.now(), { expiresAt: clock.now() + 30_000 });
      await repository.create(stored(code), clock.now());
      clock.advance(30_000);
      expect(await repository.redeem(code.codeHash, 'grant-1', clock.now())).toEqual({ kind: 'invalid' });
      // An expired code stays invalid: it is not revived as "reused" either.
      expect(await repository.redeem(code.codeHash, 'grant-2', clock.now())).toEqual({ kind: 'invalid' });
    });

    it('redeems a code one millisecond before its expiry', async () => {
      const code = authorizationCode(clock.now());
      await repository.create(stored(code), clock.now());
      clock.set(code.expiresAt - 1);
      expect((await repository.redeem(code.codeHash, 'grant-1', clock.now())).kind).toBe('redeemed');
    });

    it('answers invalid for an unknown hash and for the raw code presented as a hash', async () => {
      const code = authorizationCode(clock.now());
      await repository.create(stored(code), clock.now());
      expect(await repository.redeem(hashAuthorizationCode(generateAuthorizationCode()), 'g', clock.now())).toEqual({ kind: 'invalid' });
      expect(await repository.redeem(code.code, 'g', clock.now())).toEqual({ kind: 'invalid' });
    });

    it('refuses to overwrite a live code with the same hash', async () => {
      const code = authorizationCode(clock.now());
      expect(await repository.create(stored(code), clock.now())).toBe(true);
      expect(await repository.create({ ...stored(code), subject: 'mallory' }, clock.now())).toBe(false);
      const result = await repository.redeem(code.codeHash, 'g', clock.now());
      expect(result.kind === 'redeemed' && result.code.subject).toBe('alice');
    });

    it('keeps codes apart', async () => {
      const a = authorizationCode(clock.now(), { subject: 'alice' });
      const b = authorizationCode(clock.now(), { subject: 'bob', clientId: 'other-app', resource: [], scope: [] });
      await repository.create(stored(a), clock.now());
      await repository.create(stored(b), clock.now());
      await repository.redeem(a.codeHash, 'grant-a', clock.now());
      expect(await repository.redeem(b.codeHash, 'grant-b', clock.now())).toEqual({ kind: 'redeemed', code: stored(b) });
    });

    it('refuses records no correct caller builds: TTL over 60 s, expired, missing bindings', async () => {
      const now = clock.now();
      await expect(repository.create(stored(authorizationCode(now, { expiresAt: now + AUTHORIZATION_CODE_MAX_TTL_MS + 1 })), now)).rejects.toThrow(RangeError);
      await expect(repository.create(stored(authorizationCode(now, { expiresAt: now })), now)).rejects.toThrow(RangeError);
      await expect(repository.create(stored(authorizationCode(now, { codeChallenge: '' })), now)).rejects.toThrow(TypeError);
      await expect(repository.create(stored(authorizationCode(now, { redirectUri: '' })), now)).rejects.toThrow(TypeError);
    });

    it('returns copies: changing a result does not change the store', async () => {
      const code = authorizationCode(clock.now(), { subject: randomUUID() });
      const record = stored(code);
      await repository.create(record, clock.now());
      (record.scope as string[]).push('admin');
      const result = await repository.redeem(code.codeHash, 'g', clock.now());
      expect(result.kind === 'redeemed' && result.code.scope).toEqual(['openid', 'mcp:tools']);
    });
  });
}
