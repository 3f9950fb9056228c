import {
  assertStorableCode,
  type AuthorizationCode,
  type AuthorizationCodeRepository,
  REDEEMED_CODE_RETENTION_MS,
  type RedemptionResult,
} from '../../domain/authorization-code.js';
import { type Clock, systemClock } from '../../domain/clock.js';

interface CodeEntry {
  readonly code: AuthorizationCode;
  /** Set by the first redemption. */
  grantId: string | null;
  /** Forgotten from this instant on: the code's expiry, or after redemption the replay-detection window. */
  evictAt: number;
}

const INVALID: RedemptionResult = Object.freeze({ kind: 'invalid' });

/**
 * The embedded default: single process, lost on restart. Each verb runs without awaiting, so it is
 * atomic and redemption is exactly-once under concurrency. Entries expire by the caller's `now`; an
 * unref'd timer sweeps the ones nobody reads again. Callers get copies, never stored objects.
 */
export class MemoryAuthorizationCodeRepository implements AuthorizationCodeRepository {
  private readonly codes = new Map<string, CodeEntry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(clock: Clock = systemClock, sweepIntervalMs = 60_000) {
    this.sweeper = setInterval(() => this.sweep(clock.now()), sweepIntervalMs);
    this.sweeper.unref();
  }

  async create(code: AuthorizationCode, now: number): Promise<boolean> {
    assertStorableCode(code, now);
    const existing = this.codes.get(code.codeHash);
    if (existing && existing.evictAt > now) return false;
    this.codes.set(code.codeHash, { code: copy(code), grantId: null, evictAt: code.expiresAt });
    return true;
  }

  async redeem(codeHash: string, grantId: string, now: number): Promise<RedemptionResult> {
    const entry = this.codes.get(codeHash);
    if (!entry || entry.evictAt <= now) {
      this.codes.delete(codeHash);
      return INVALID;
    }
    if (entry.grantId !== null) return { kind: 'reused', grantId: entry.grantId, clientId: entry.code.clientId };
    entry.grantId = grantId;
    entry.evictAt = now + REDEEMED_CODE_RETENTION_MS;
    return { kind: 'redeemed', code: copy(entry.code) };
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  /** Number of remembered codes (tests: nothing leaks). */
  get size(): number {
    return this.codes.size;
  }

  private sweep(now: number): void {
    for (const [hash, entry] of this.codes) if (entry.evictAt <= now) this.codes.delete(hash);
  }
}

function copy(code: AuthorizationCode): AuthorizationCode {
  return { ...code, resource: [...code.resource], scope: [...code.scope] };
}
