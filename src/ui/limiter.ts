import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export interface AttemptPolicy {
  readonly per_ip: number;
  readonly per_account: number;
  /** Seconds. */
  readonly window: number;
}

export type LimitCheck = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

/**
 * RFC 8628 §5.1: counts failed attempts per client IP and per signed-in account, on the same store
 * as the grants (Redis in production, memory by default). Only failures consume points, and a
 * success never resets them: an attacker cannot refill a budget by entering their own valid code.
 */
export class FailedAttemptLimiter {
  private readonly perIp: RateLimiterAbstract;
  private readonly perAccount: RateLimiterAbstract;

  constructor(name: string, policy: AttemptPolicy, store: { redis?: Redis | undefined; keyPrefix?: string | undefined } = {}) {
    const { redis, keyPrefix = 'devicegate:' } = store;
    const make = (scope: string, points: number) => {
      const options = { keyPrefix: `${keyPrefix}limit:${name}:${scope}`, points, duration: policy.window };
      return redis ? new RateLimiterRedis({ ...options, storeClient: redis }) : new RateLimiterMemory(options);
    };
    this.perIp = make('ip', policy.per_ip);
    this.perAccount = make('account', policy.per_account);
  }

  /** Whether another attempt is allowed now (reads only). */
  async check(ip: string, account: string | null): Promise<LimitCheck> {
    const states = await Promise.all([this.perIp.get(ip), account ? this.perAccount.get(account) : null]);
    const exhausted = states.filter(
      (state, i): state is RateLimiterRes => state !== null && state.consumedPoints >= (i === 0 ? this.perIp : this.perAccount).points,
    );
    if (!exhausted.length) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.ceil(Math.max(...exhausted.map((s) => s.msBeforeNext)) / 1000) };
  }

  /** Records one failure against the IP and the account. */
  async fail(ip: string, account: string | null): Promise<void> {
    await Promise.all([penalise(this.perIp, ip), account ? penalise(this.perAccount, account) : null]);
  }
}

/** consume() rejects once the budget is spent; here the rejection is the expected outcome. */
async function penalise(limiter: RateLimiterAbstract, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (error) {
    if (!(error instanceof RateLimiterRes)) throw error;
  }
}
