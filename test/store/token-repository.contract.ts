import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../src/domain/clock.js';
import {
  type RefreshTokenRecord,
  RefreshTokenConflictError,
  type RotationResult,
  type TokenRepository,
} from '../../src/domain/token-repository.js';

export interface TokenRepositoryUnderTest {
  readonly repository: TokenRepository;
  readonly clock: ManualClock;
}

export const REFRESH_TTL_MS = 30 * 24 * 3600 * 1000;

/**
 * An opaque refresh token as the token endpoint would mint it (`<family id>.<random>`: the routing
 * tag that keeps a family in one Redis Cluster slot), and the hash the store sees (`<tag>.<SHA-256>`).
 * Without a tag: a forged token.
 */
export function opaqueToken(familyTag?: string): { token: string; hash: string } {
  const secret = randomBytes(32).toString('base64url');
  const token = familyTag === undefined ? secret : `${familyTag}.${secret}`;
  const digest = createHash('sha256').update(token).digest('base64url');
  return { token, hash: familyTag === undefined ? digest : `${familyTag}.${digest}` };
}

/** The family tag in front of a token hash (as the token endpoint copies it to the successor). */
export function familyTagOf(tokenHash: string): string | undefined {
  const dot = tokenHash.indexOf('.');
  return dot > 0 ? tokenHash.slice(0, dot) : undefined;
}

/** The first refresh token of a new family, with overrides. */
export function refreshRecord(now: number, overrides: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord {
  const familyId = overrides.familyId ?? randomUUID();
  return {
    tokenHash: opaqueToken(familyId).hash,
    familyId,
    clientId: 'demo-cli',
    subject: 'user:alice',
    scope: ['openid', 'offline_access', 'mcp:tools'],
    resource: ['https://mcp.example.com/', 'https://other.example.com/api'],
    createdAt: now,
    expiresAt: now + REFRESH_TTL_MS,
    ...overrides,
  };
}

function rotated(result: RotationResult): Extract<RotationResult, { kind: 'rotated' }> {
  expect(result.kind).toBe('rotated');
  return result as Extract<RotationResult, { kind: 'rotated' }>;
}

/** One contract, every implementation: memory/tokens.test.ts and redis/tokens.test.ts run it. */
export function tokenRepositoryContract(name: string, open: () => Promise<TokenRepositoryUnderTest>): void {
  describe(`${name}: TokenRepository contract`, () => {
    let repository: TokenRepository;
    let clock: ManualClock;
    beforeEach(async () => {
      ({ repository, clock } = await open());
    });
    afterEach(async () => {
      await repository.close();
    });

    const rotate = (tokenHash: string, nextTokenHash = opaqueToken(familyTagOf(tokenHash)).hash, clientId = 'demo-cli', ttlMs = REFRESH_TTL_MS) =>
      repository.rotateRefreshToken({ tokenHash, clientId, nextTokenHash, ttlMs }, clock.now());

    describe('save and find', () => {
      it('stores a refresh token that reads back identically', async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        expect(await repository.findRefreshToken(record.tokenHash, clock.now())).toEqual(record);
      });

      it('round-trips empty scope and resource lists', async () => {
        const record = refreshRecord(clock.now(), { scope: [], resource: [] });
        await repository.saveRefreshToken(record, clock.now());
        expect(await repository.findRefreshToken(record.tokenHash, clock.now())).toEqual(record);
      });

      it('finds nothing for an unknown token', async () => {
        expect(await repository.findRefreshToken(opaqueToken().hash, clock.now())).toBeNull();
      });

      it('finds a token until the instant it expires, and not from then on', async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        expect(await repository.findRefreshToken(record.tokenHash, record.expiresAt - 1)).toEqual(record);
        expect(await repository.findRefreshToken(record.tokenHash, record.expiresAt)).toBeNull();
      });

      it('refuses a token hash or a family that is already stored, changing nothing', async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        // A token hash carries its family id as routing tag, so a stored hash comes back with its family.
        const sameHash = refreshRecord(clock.now(), { tokenHash: record.tokenHash, familyId: record.familyId, clientId: 'other', scope: ['admin'] });
        const sameFamily = refreshRecord(clock.now(), { familyId: record.familyId });
        await expect(repository.saveRefreshToken(sameHash, clock.now())).rejects.toBeInstanceOf(RefreshTokenConflictError);
        await expect(repository.saveRefreshToken(sameFamily, clock.now())).rejects.toBeInstanceOf(RefreshTokenConflictError);
        expect(await repository.findRefreshToken(record.tokenHash, clock.now())).toEqual(record);
        expect(await repository.findRefreshToken(sameFamily.tokenHash, clock.now())).toBeNull();
      });

      it('refuses to save a token already expired', async () => {
        const record = refreshRecord(clock.now(), { expiresAt: clock.now() });
        await expect(repository.saveRefreshToken(record, clock.now())).rejects.toBeInstanceOf(RangeError);
        expect(await repository.findRefreshToken(record.tokenHash, clock.now() - 1)).toBeNull();
      });

      it('hands out copies, so callers cannot change stored state', async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        const copy = (await repository.findRefreshToken(record.tokenHash, clock.now())) as unknown as { scope: string[] };
        copy.scope.push('admin');
        expect((await repository.findRefreshToken(record.tokenHash, clock.now()))?.scope).toEqual(record.scope);
      });
    });

    describe('rotation (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2)', () => {
      it('rotates: the next token keeps family, client, subject, scope and resource, with a fresh lifetime', async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        clock.advance(60_000);
        const nextHash = opaqueToken(record.familyId).hash;
        const result = rotated(await rotate(record.tokenHash, nextHash, 'demo-cli', 3_600_000));
        expect(result.previous).toEqual(record);
        expect(result.next).toEqual({
          ...record,
          tokenHash: nextHash,
          createdAt: clock.now(),
          expiresAt: clock.now() + 3_600_000,
        });
        expect(await repository.findRefreshToken(nextHash, clock.now())).toEqual(result.next);
        expect(await repository.findRefreshToken(record.tokenHash, clock.now())).toBeNull();
      });

      it('rotates empty scope and resource lists unchanged', async () => {
        const record = refreshRecord(clock.now(), { scope: [], resource: [] });
        await repository.saveRefreshToken(record, clock.now());
        const { next } = rotated(await rotate(record.tokenHash));
        expect(next.scope).toEqual([]);
        expect(next.resource).toEqual([]);
        expect(await repository.findRefreshToken(next.tokenHash, clock.now())).toEqual(next);
      });

      it('rotates along a chain, each token once', async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        let current = record.tokenHash;
        for (let i = 0; i < 5; i++) {
          clock.advance(1_000);
          const { next } = rotated(await rotate(current));
          expect(next.familyId).toBe(record.familyId);
          current = next.tokenHash;
        }
        expect((await repository.findRefreshToken(current, clock.now()))?.familyId).toBe(record.familyId);
      });

      it('a used token presented again is reuse: the whole family is revoked, newest token included', async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        const first = rotated(await rotate(record.tokenHash));
        const second = rotated(await rotate(first.next.tokenHash));

        expect(await rotate(record.tokenHash)).toEqual({ kind: 'reused', familyId: record.familyId });

        for (const hash of [record.tokenHash, first.next.tokenHash, second.next.tokenHash]) {
          expect(await repository.findRefreshToken(hash, clock.now())).toBeNull();
        }
        expect(await rotate(second.next.tokenHash)).toEqual({ kind: 'invalid' });
        // Reuse is reported once per family; afterwards every token of it is simply invalid.
        expect(await rotate(record.tokenHash)).toEqual({ kind: 'invalid' });
        expect(await rotate(first.next.tokenHash)).toEqual({ kind: 'invalid' });
      });

      it('the token handed out by a rotation can be replayed neither as the previous nor the next', async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        const { next } = rotated(await rotate(record.tokenHash));
        // Rotating the old token into a new hash once more is reuse, even right away.
        expect((await rotate(record.tokenHash)).kind).toBe('reused');
        expect(await rotate(next.tokenHash)).toEqual({ kind: 'invalid' });
      });

      it("another client's attempt is invalid and changes nothing (RFC 6749 §6, §10.4)", async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        expect(await rotate(record.tokenHash, undefined, 'build-bot')).toEqual({ kind: 'invalid' });
        expect(await repository.findRefreshToken(record.tokenHash, clock.now())).toEqual(record);
        const { next } = rotated(await rotate(record.tokenHash));

        // Not even a used token lets another client revoke the family.
        expect(await rotate(record.tokenHash, undefined, 'build-bot')).toEqual({ kind: 'invalid' });
        expect(await repository.findRefreshToken(next.tokenHash, clock.now())).toEqual(next);
        rotated(await rotate(next.tokenHash));
      });

      it('an expired token is invalid, from the instant it expires', async () => {
        const record = refreshRecord(clock.now(), { expiresAt: clock.now() + 10_000 });
        await repository.saveRefreshToken(record, clock.now());
        clock.set(record.expiresAt);
        expect(await rotate(record.tokenHash)).toEqual({ kind: 'invalid' });
      });

      it('a token one millisecond before expiry still rotates', async () => {
        const record = refreshRecord(clock.now(), { expiresAt: clock.now() + 10_000 });
        await repository.saveRefreshToken(record, clock.now());
        clock.set(record.expiresAt - 1);
        rotated(await rotate(record.tokenHash));
      });

      it('the next token lives its own lifetime, beyond the first token of the family', async () => {
        const record = refreshRecord(clock.now(), { expiresAt: clock.now() + 10_000 });
        await repository.saveRefreshToken(record, clock.now());
        clock.advance(5_000);
        const { next } = rotated(await rotate(record.tokenHash, undefined, 'demo-cli', 60_000));
        clock.set(record.expiresAt + 1_000);
        expect(await repository.findRefreshToken(next.tokenHash, clock.now())).toEqual(next);
        rotated(await rotate(next.tokenHash));
      });

      it('an unknown token is invalid', async () => {
        expect(await rotate(opaqueToken().hash)).toEqual({ kind: 'invalid' });
      });

      it('refuses to rotate into a hash already stored, writing nothing', async () => {
        // Within one family (the tokens' routing tag keeps a family in one Redis Cluster slot): the
        // active token rotated into the hash of the family's first, used, token.
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        const active = rotated(await rotate(record.tokenHash)).next;
        await expect(rotate(active.tokenHash, record.tokenHash)).rejects.toBeInstanceOf(RefreshTokenConflictError);
        await expect(rotate(active.tokenHash, active.tokenHash)).rejects.toBeInstanceOf(RefreshTokenConflictError);
        expect(await repository.findRefreshToken(active.tokenHash, clock.now())).toEqual(active);
        expect(await repository.findRefreshToken(record.tokenHash, clock.now())).toBeNull(); // used
        rotated(await rotate(active.tokenHash));
      });

      it('refuses a lifetime that is not a positive integer', async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        for (const ttlMs of [0, -1, 1.5, Number.NaN]) {
          await expect(rotate(record.tokenHash, undefined, 'demo-cli', ttlMs)).rejects.toBeInstanceOf(RangeError);
        }
        expect(await repository.findRefreshToken(record.tokenHash, clock.now())).toEqual(record);
      });

      it('keeps families apart: reuse in one revokes nothing in another', async () => {
        const mine = refreshRecord(clock.now());
        const theirs = refreshRecord(clock.now(), { subject: 'user:bob' });
        await repository.saveRefreshToken(mine, clock.now());
        await repository.saveRefreshToken(theirs, clock.now());
        rotated(await rotate(mine.tokenHash));
        expect((await rotate(mine.tokenHash)).kind).toBe('reused');
        expect(await repository.findRefreshToken(theirs.tokenHash, clock.now())).toEqual(theirs);
      });

      it('exactly once under concurrency: of 100 rotations of one token, one rotates, one detects reuse, the rest are invalid', async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        const nextHashes = Array.from({ length: 100 }, () => opaqueToken(record.familyId).hash);
        const results = await Promise.all(nextHashes.map((hash) => rotate(record.tokenHash, hash)));

        const count = (kind: RotationResult['kind']) => results.filter((r) => r.kind === kind).length;
        // The first rotation wins; the second finds the token used and revokes the family; every
        // later one finds the family revoked.
        expect({ rotated: count('rotated'), reused: count('reused'), invalid: count('invalid') }).toEqual({
          rotated: 1,
          reused: 1,
          invalid: 98,
        });
        const winner = results.find((r) => r.kind === 'rotated') as Extract<RotationResult, { kind: 'rotated' }>;
        expect(nextHashes).toContain(winner.next.tokenHash);
        // The family is revoked, so the winner's token is dead too; the losers' hashes were never stored.
        for (const hash of [record.tokenHash, ...nextHashes]) {
          expect(await repository.findRefreshToken(hash, clock.now())).toBeNull();
        }
        expect(await rotate(winner.next.tokenHash)).toEqual({ kind: 'invalid' });
      });
    });

    describe('revocation (RFC 7009)', () => {
      it('revokes the whole family: no token of it can be used or found', async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        const { next } = rotated(await rotate(record.tokenHash));
        expect(await repository.revokeRefreshToken(next.tokenHash, 'demo-cli', clock.now())).toBe(true);
        expect(await repository.findRefreshToken(next.tokenHash, clock.now())).toBeNull();
        expect(await rotate(next.tokenHash)).toEqual({ kind: 'invalid' });
        // Revoked, not reused: presenting the used token afterwards is plainly invalid.
        expect(await rotate(record.tokenHash)).toEqual({ kind: 'invalid' });
        expect(await repository.revokeRefreshToken(next.tokenHash, 'demo-cli', clock.now())).toBe(false);
      });

      it('reports a family revoked by revocation or by reuse, and only that family', async () => {
        const revoked = refreshRecord(clock.now());
        const reused = refreshRecord(clock.now());
        const untouched = refreshRecord(clock.now());
        for (const record of [revoked, reused, untouched]) await repository.saveRefreshToken(record, clock.now());
        expect(await repository.isFamilyRevoked(revoked.familyId, clock.now())).toBe(false);
        await repository.revokeRefreshToken(revoked.tokenHash, 'demo-cli', clock.now());
        rotated(await rotate(reused.tokenHash));
        expect((await rotate(reused.tokenHash)).kind).toBe('reused');
        expect(await repository.isFamilyRevoked(revoked.familyId, clock.now())).toBe(true);
        expect(await repository.isFamilyRevoked(reused.familyId, clock.now())).toBe(true);
        expect(await repository.isFamilyRevoked(untouched.familyId, clock.now())).toBe(false);
        expect(await repository.isFamilyRevoked('unknown-family', clock.now())).toBe(false);
      });

      it('a used token still names its family and revokes it', async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        const { next } = rotated(await rotate(record.tokenHash));
        expect(await repository.revokeRefreshToken(record.tokenHash, 'demo-cli', clock.now())).toBe(true);
        expect(await rotate(next.tokenHash)).toEqual({ kind: 'invalid' });
      });

      it('revokes nothing for an unknown or expired token', async () => {
        expect(await repository.revokeRefreshToken(opaqueToken().hash, 'demo-cli', clock.now())).toBe(false);
        const record = refreshRecord(clock.now(), { expiresAt: clock.now() + 10_000 });
        await repository.saveRefreshToken(record, clock.now());
        expect(await repository.revokeRefreshToken(record.tokenHash, 'demo-cli', record.expiresAt)).toBe(false);
      });

      it("revokes nothing for another client's token, which stays usable", async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        expect(await repository.revokeRefreshToken(record.tokenHash, 'build-bot', clock.now())).toBe(false);
        expect(await repository.findRefreshToken(record.tokenHash, clock.now())).toEqual(record);
        rotated(await rotate(record.tokenHash));
      });

      it('deny-lists an access token jti; others and already expired ones are not listed', async () => {
        const now = clock.now();
        await repository.revokeAccessToken('jti-revoked', now + 600_000, now);
        await repository.revokeAccessToken('jti-expired', now, now);
        expect(await repository.isAccessTokenRevoked('jti-revoked')).toBe(true);
        expect(await repository.isAccessTokenRevoked('jti-expired')).toBe(false);
        expect(await repository.isAccessTokenRevoked('jti-other')).toBe(false);
      });
    });

    describe('revokeFamily (RFC 6749 §4.1.2: an authorization code used twice)', () => {
      it('revokes a stored family: its token no longer rotates nor reads, and the family reads revoked', async () => {
        const record = refreshRecord(clock.now());
        await repository.saveRefreshToken(record, clock.now());
        await repository.revokeFamily(record.familyId, 60_000, clock.now());
        expect(await repository.isFamilyRevoked(record.familyId, clock.now())).toBe(true);
        expect(await repository.findRefreshToken(record.tokenHash, clock.now())).toBeNull();
        expect((await rotate(record.tokenHash)).kind).toBe('invalid');
        // Idempotent.
        await repository.revokeFamily(record.familyId, 60_000, clock.now());
        expect(await repository.isFamilyRevoked(record.familyId, clock.now())).toBe(true);
      });

      it('a family not stored yet gets a revoked marker: a racing first redemption cannot store it afterwards', async () => {
        const record = refreshRecord(clock.now());
        await repository.revokeFamily(record.familyId, 60_000, clock.now());
        expect(await repository.isFamilyRevoked(record.familyId, clock.now())).toBe(true);
        await expect(repository.saveRefreshToken(record, clock.now())).rejects.toThrow(RefreshTokenConflictError);
      });

      it('leaves other families alone', async () => {
        const kept = refreshRecord(clock.now());
        await repository.saveRefreshToken(kept, clock.now());
        await repository.revokeFamily(randomUUID(), 60_000, clock.now());
        expect(await repository.isFamilyRevoked(kept.familyId, clock.now())).toBe(false);
        expect((await rotate(kept.tokenHash)).kind).toBe('rotated');
      });
    });
  });
}
