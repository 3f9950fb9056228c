import type { Clock } from '../../domain/clock.js';
import { systemClock } from '../../domain/clock.js';
import {
  assertRotationRequest,
  assertSavable,
  nextRecord,
  type RefreshTokenRecord,
  RefreshTokenConflictError,
  type RotationRequest,
  type RotationResult,
  type TokenRepository,
} from '../../domain/token-repository.js';

interface TokenEntry {
  readonly record: RefreshTokenRecord;
  /** Rotated away; kept until its own expiry so that a replay is detected (RFC 9700 §4.14.2). */
  used: boolean;
}

interface FamilyEntry {
  revoked: boolean;
  /** The latest expiry of any token of the family: the family outlives every one of its tokens. */
  evictAt: number;
}

const INVALID: RotationResult = Object.freeze({ kind: 'invalid' });

/**
 * The embedded default: single process, lost on restart. Every verb runs to completion without
 * awaiting, so each is atomic and rotation is exactly-once under concurrency. Records expire lazily
 * by the caller's `now` (tests move a `ManualClock` instead of sleeping); an unref'd timer sweeps
 * what nobody reads again. Callers get copies, never stored objects.
 */
export class MemoryTokenRepository implements TokenRepository {
  private readonly tokens = new Map<string, TokenEntry>();
  private readonly families = new Map<string, FamilyEntry>();
  /** jti → the access token's expiry. */
  private readonly revokedJtis = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly clock: Clock = systemClock, sweepEveryMs = 60_000) {
    this.sweeper = setInterval(() => this.sweep(), sweepEveryMs);
    this.sweeper.unref();
  }

  async saveRefreshToken(record: RefreshTokenRecord, now: number): Promise<void> {
    assertSavable(record, now);
    if (this.liveToken(record.tokenHash, now) || this.liveFamily(record.familyId, now)) {
      throw new RefreshTokenConflictError('refresh token or family already stored');
    }
    this.tokens.set(record.tokenHash, { record: structuredClone(record), used: false });
    this.families.set(record.familyId, { revoked: false, evictAt: record.expiresAt });
  }

  async rotateRefreshToken(rotation: RotationRequest, now: number): Promise<RotationResult> {
    assertRotationRequest(rotation);
    const entry = this.liveToken(rotation.tokenHash, now);
    // RFC 6749 §6, §10.4: only the client the token was issued to may use it; another client's
    // attempt changes nothing (it must not be able to burn or revoke someone else's family).
    if (!entry || entry.record.clientId !== rotation.clientId) return INVALID;
    const family = this.liveFamily(entry.record.familyId, now);
    // A missing family while a token lives cannot happen; if it did, refuse (fail closed).
    if (!family || family.revoked) return INVALID;
    if (entry.used) {
      // OAuth 2.1 §4.3.1, RFC 9700 §4.14.2: a used token presented again → revoke the whole family.
      family.revoked = true;
      return { kind: 'reused', familyId: entry.record.familyId };
    }
    if (this.liveToken(rotation.nextTokenHash, now)) {
      throw new RefreshTokenConflictError('the next refresh token hash is already stored');
    }
    const next = nextRecord(entry.record, rotation, now);
    entry.used = true;
    this.tokens.set(next.tokenHash, { record: structuredClone(next), used: false });
    family.evictAt = Math.max(family.evictAt, next.expiresAt);
    return { kind: 'rotated', previous: structuredClone(entry.record), next: structuredClone(next) };
  }

  async findRefreshToken(tokenHash: string, now: number): Promise<RefreshTokenRecord | null> {
    const entry = this.liveToken(tokenHash, now);
    if (!entry || entry.used) return null;
    const family = this.liveFamily(entry.record.familyId, now);
    if (!family || family.revoked) return null;
    return structuredClone(entry.record);
  }

  async revokeRefreshToken(tokenHash: string, clientId: string, now: number): Promise<boolean> {
    const entry = this.liveToken(tokenHash, now);
    // RFC 7009 §2.1: the token must have been issued to the requesting client.
    if (!entry || entry.record.clientId !== clientId) return false;
    const family = this.liveFamily(entry.record.familyId, now);
    if (!family || family.revoked) return false;
    family.revoked = true;
    return true;
  }

  async revokeAccessToken(jti: string, expiresAt: number, now: number): Promise<void> {
    if (expiresAt <= now) return; // already refused for being expired
    this.revokedJtis.set(jti, Math.max(expiresAt, this.revokedJtis.get(jti) ?? 0));
  }

  async revokeFamily(familyId: string, markerTtlMs: number, now: number): Promise<void> {
    const family = this.liveFamily(familyId, now);
    if (family) family.revoked = true;
    else this.families.set(familyId, { revoked: true, evictAt: now + markerTtlMs });
  }

  async isFamilyRevoked(familyId: string, now: number): Promise<boolean> {
    return this.liveFamily(familyId, now)?.revoked === true;
  }

  async isAccessTokenRevoked(jti: string): Promise<boolean> {
    const expiresAt = this.revokedJtis.get(jti);
    if (expiresAt === undefined) return false;
    if (expiresAt <= this.clock.now()) {
      this.revokedJtis.delete(jti);
      return false;
    }
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  private liveToken(tokenHash: string, now: number): TokenEntry | undefined {
    const entry = this.tokens.get(tokenHash);
    if (!entry) return undefined;
    if (entry.record.expiresAt <= now) {
      this.tokens.delete(tokenHash);
      return undefined;
    }
    return entry;
  }

  private liveFamily(familyId: string, now: number): FamilyEntry | undefined {
    const family = this.families.get(familyId);
    if (!family) return undefined;
    if (family.evictAt <= now) {
      this.families.delete(familyId);
      return undefined;
    }
    return family;
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [hash, entry] of this.tokens) if (entry.record.expiresAt <= now) this.tokens.delete(hash);
    for (const [id, family] of this.families) if (family.evictAt <= now) this.families.delete(id);
    for (const [jti, expiresAt] of this.revokedJtis) if (expiresAt <= now) this.revokedJtis.delete(jti);
  }
}
