import { Redis, type RedisOptions, ReplyError } from 'ioredis';
import { TemporarilyUnavailableError } from '../../domain/errors.js';

/** Error replies that mean "not now" (restart, failover, busy script), not a fault of ours. */
const TRANSIENT_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN)\b/;

/**
 * Connection settings chosen so that a Redis outage yields a fast 503, never a hung request: no
 * offline queue (commands fail at once while disconnected), one retry, a command timeout.
 */
export function redisOptions(overrides: RedisOptions = {}): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2_000,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    ...overrides,
  };
}

/** Connects and waits until Redis answers; throws when it cannot. */
export async function connectRedis(url: string, options: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(url, redisOptions(options));
  // Connection errors surface as rejected commands (503); without a listener ioredis would log them.
  redis.on('error', () => {});
  await redis.connect();
  return redis;
}

/**
 * Runs one Redis call. Redis unreachable (down, timeout, refused) becomes a retryable 503 for the
 * client; an error reply from Redis itself (a script fault) is ours and stays a 500.
 */
export function callRedis<T>(store: string, command: () => Promise<T>): Promise<T> {
  // Not async/await: this wraps every Redis call, a poll's included.
  let pending: Promise<T>;
  try {
    pending = command();
  } catch (error) {
    pending = Promise.reject(error);
  }
  return pending.catch((error: unknown) => {
    if (error instanceof ReplyError && !TRANSIENT_REPLY.test((error as Error).message)) throw error;
    throw new TemporarilyUnavailableError(`the ${store} is unavailable; retry shortly`, { cause: error });
  });
}
