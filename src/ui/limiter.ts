import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { limiterKeyPrefix } from '../store/redis/key-names.js';
import { callRedis, type RedisClient } from '../store/redis/connection.js';
import { limiterRejections } from '../metrics.js';
import { ipBucket } from '../domain/ip-bucket.js';

export { ipBucket };

export interface AttemptPolicy {
  readonly per_ip: number;
  readonly per_account: number;
  /** Seconds. */
  readonly window: number;
}

/** An attempt that was let through: it counts as a failure unless the caller says otherwise. */
export interface AllowedAttempt {
  readonly allowed: true;
  /** The attempt was not a failed guess (a valid code, a right password, malformed input): refund it. */
  notAFailure(): Promise<void>;
}
export type Attempt = AllowedAttempt | { readonly allowed: false; readonly retryAfterSeconds: number };

/**
 * RFC 8628 §5.1: limits failed attempts per client IP (IPv6 per /64, what one subscriber gets) and
 * per signed-in account, on the same store as the grants (Redis in production, memory by default).
 * Every attempt takes its point before the lookup, atomically in the store, so parallel guesses
 * cannot overshoot the limit; a successful one gives back exactly its own point and never refunds
 * earlier failures: an attacker cannot refill a budget by entering their own valid code.
 */
export class FailedAttemptLimiter {
  private readonly perIp: RateLimiterAbstract;
  private readonly perAccount: RateLimiterAbstract;
  /** On Redis, an unreachable store is a 503 (retry shortly), as for the grants; not a 500. */
  private readonly call: <T>(operation: () => Promise<T>) => Promise<T>;

  constructor(private readonly name: string, policy: AttemptPolicy, store: { redis?: RedisClient | undefined; keyPrefix?: string | undefined } = {}) {
    const { redis, keyPrefix = 'devicegate:' } = store;
    const make = (scope: 'ip' | 'account', points: number) => {
      const options = { keyPrefix: limiterKeyPrefix(keyPrefix, name, scope), points, duration: policy.window };
      return redis ? new RateLimiterRedis({ ...options, storeClient: redis }) : new RateLimiterMemory(options);
    };
    this.call = redis ? (operation) => callRedis('rate limiter', operation) : (operation) => operation();
    this.perIp = make('ip', policy.per_ip);
    this.perAccount = make('account', policy.per_account);
  }

  async attempt(ip: string, account: string | null): Promise<Attempt> {
    const takes: [RateLimiterAbstract, string][] = [[this.perIp, ipBucket(ip)]];
    if (account) takes.push([this.perAccount, account]);
    const results = await this.call(() => Promise.all(takes.map(([limiter, key]) => take(limiter, key))));
    const refund = (which: (typeof takes)[number][]) =>
      this.call(() => Promise.all(which.map(([limiter, key]) => limiter.reward(key, 1)))).then(() => undefined);
    const refused = results.filter((result) => !result.taken);
    if (refused.length) {
      limiterRejections.inc({ limiter: this.name });
      // Refused: this attempt does not happen, so a point taken from the other budget goes back.
      await refund(takes.filter((_, i) => results[i]!.taken));
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(...refused.map((r) => r.msBeforeNext)) / 1000)) };
    }
    let refunded = false;
    return {
      allowed: true,
      notAFailure: async () => {
        if (refunded) return;
        refunded = true;
        await refund(takes);
      },
    };
  }
}

/** consume() rejects with a RateLimiterRes once the budget is spent: here that is an answer, not an error. */
async function take(limiter: RateLimiterAbstract, key: string): Promise<{ taken: boolean; msBeforeNext: number }> {
  try {
    const result = await limiter.consume(key);
    return { taken: true, msBeforeNext: result.msBeforeNext };
  } catch (error) {
    if (!(error instanceof RateLimiterRes)) throw error;
    return { taken: false, msBeforeNext: error.msBeforeNext };
  }
}
