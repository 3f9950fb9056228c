import { Redis, type RedisOptions, ReplyError } from 'ioredis';
import { TemporarilyUnavailableError } from '../domain/errors.js';
import { redisCommandDuration, redisErrors } from '../metrics.js';
import type { Decision, DecisionOutcome, PollOutcome } from '../domain/poll-policy.js';
import { grantFromHashFields, grantToHashFields, pairsToRecord } from './grant-hash.js';
import { type KeyBuilder, keyBuilder } from './keys.js';
import { LuaScript } from './lua-script.js';
import { type DeviceGrant, type DeviceGrantRepository, retentionMs } from './repository.js';

/**
 * Error replies that mean "not now" (restart, failover, memory full, busy script). Every Redis failure
 * becomes a 503 for the client (issue 10: never a 500); these ones are expected in operation, any
 * other reply is counted as a "reply" error too and still answered 503, because retrying later is
 * all a client can do either way.
 */
const TRANSIENT_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN|OOM|NOREPLICAS|MISCONF)\b/;

/** Listeners told about every failed Redis call (the readiness monitor probes at once). */
const failureListeners = new Set<(error: unknown) => void>();

/** Calls `listener` after each failed Redis call; returns the function that unsubscribes it. */
export function onRedisFailure(listener: (error: unknown) => void): () => void {
  failureListeners.add(listener);
  return () => failureListeners.delete(listener);
}

/** True for errors that come from Redis or the connection to it (ioredis), as opposed to our own code. */
export function isRedisFailure(error: unknown): boolean {
  if (error instanceof ReplyError) return true;
  if (!(error instanceof Error)) return false;
  return /^(Connection is closed|Stream isn't writeable|Command timed out|Reached the max retries|connect E|read E|write E)/.test(
    error.message,
  );
}

/** The device grant's scripts (src/store/lua/; each file's header states its KEYS and ARGV). */
const scripts = {
  createGrant: new LuaScript('create-grant', 2),
  pollGrant: new LuaScript('poll-grant', 1),
  decideGrant: new LuaScript('decide-grant', 1),
};

/**
 * Connection settings chosen so that a Redis outage yields a fast 503, never a hung request: no
 * offline queue (commands fail at once while disconnected), one retry, a command timeout.
 */
export function redisOptions(overrides: RedisOptions = {}): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Issue 10: a hung Redis (SIGSTOP, a long script elsewhere) must give a 503 within 1 s of the
    // request; a request may wait on one command before it fails, so well under a second.
    commandTimeout: 500,
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
  try {
    await redis.connect();
  } catch (error) {
    // Do not leave a reconnecting client behind a failed start.
    redis.disconnect();
    throw error;
  }
  return redis;
}

/**
 * Runs one Redis call, timed for /metrics. Any failure — Redis down, hung (command timeout), refusing
 * writes (OOM at maxmemory, READONLY replica) or a reply we did not expect — becomes a retryable 503
 * `temporarily_unavailable` (RFC 6749 §4.1.2.1 / §5.2 usage) for the client; the cause is kept for
 * the logs, whose serializer drops command arguments.
 */
export function callRedis<T>(store: string, command: () => Promise<T>): Promise<T> {
  // Not async/await: this wraps every Redis call, a poll's included.
  const started = performance.now();
  let pending: Promise<T>;
  try {
    pending = command();
  } catch (error) {
    pending = Promise.reject(error);
  }
  return pending.then(
    (result) => {
      redisCommandDuration.observe((performance.now() - started) / 1000);
      return result;
    },
    (error: unknown) => {
      redisCommandDuration.observe((performance.now() - started) / 1000);
      redisErrors.inc({ kind: error instanceof ReplyError && !TRANSIENT_REPLY.test((error as Error).message) ? 'reply' : 'unavailable' });
      for (const listener of failureListeners) listener(error);
      throw new TemporarilyUnavailableError(`the ${store} is unavailable; retry shortly`, { cause: error });
    },
  );
}

export class RedisDeviceGrantRepository implements DeviceGrantRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: KeyBuilder = keyBuilder(),
  ) {}

  /** Connects and waits until Redis answers; throws when it cannot. */
  static async connect(
    url: string,
    options: { keyPrefix?: string; redis?: RedisOptions } = {},
  ): Promise<RedisDeviceGrantRepository> {
    return new RedisDeviceGrantRepository(await connectRedis(url, options.redis), keyBuilder(options.keyPrefix));
  }

  async create(grant: DeviceGrant, now: number): Promise<boolean> {
    const stored = await this.call(() =>
      scripts.createGrant.run<0 | 1>(
        this.redis,
        this.keys.userCodeIndex(grant.userCode),
        this.keys.grant(grant.deviceCodeHash),
        retentionMs(grant, now),
        ...grantToHashFields(grant),
      ),
    );
    return stored === 1;
  }

  async findByUserCode(userCode: string): Promise<DeviceGrant | null> {
    const grantKey = await this.call(() => this.redis.get(this.keys.userCodeIndex(userCode)));
    if (grantKey === null) return null;
    return grantFromHashFields(await this.call(() => this.redis.hgetall(grantKey)));
  }

  async findByDeviceCodeHash(deviceCodeHash: string): Promise<DeviceGrant | null> {
    return grantFromHashFields(await this.call(() => this.redis.hgetall(this.keys.grant(deviceCodeHash))));
  }

  /** One EVALSHA: the whole poll, including consumption, is one round trip. */
  poll(deviceCodeHash: string, clientId: string, now: number): Promise<PollOutcome> {
    return this.call(() =>
      scripts.pollGrant.run<[string, ...(string | number)[]]>(this.redis, this.keys.grant(deviceCodeHash), clientId, now),
    ).then(pollOutcome);
  }

  async decide(userCode: string, decision: Decision, now: number): Promise<DecisionOutcome> {
    const [subject, scope] =
      decision.kind === 'approve' ? [decision.subject, decision.scope ? decision.scope.join(' ') : '*'] : ['', '*'];
    return this.call(() =>
      scripts.decideGrant.run<DecisionOutcome>(this.redis, this.keys.userCodeIndex(userCode), now, decision.kind, subject, scope),
    );
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private call<T>(command: () => Promise<T>): Promise<T> {
    return callRedis('grant store', command);
  }
}

/** poll-grant.lua's reply → the outcome. */
function pollOutcome([kind, ...rest]: [string, ...(string | number)[]]): PollOutcome {
  switch (kind) {
    case 'slow_down':
      return { kind, interval: Number(rest[0]) };
    case 'approved':
      return { kind, grant: grantFromHashFields(pairsToRecord(rest.map(String)))! };
    case 'invalid_grant':
    case 'expired_token':
    case 'access_denied':
    case 'authorization_pending':
      return { kind };
    default:
      throw new Error(`poll-grant.lua answered ${String(kind)}`);
  }
}
