import { Cluster, type RedisOptions } from 'ioredis';
import {
  type Decision,
  type DecisionOutcome,
  POLL_LEEWAY_MAX_MS,
  POLL_LEEWAY_MS_PER_INTERVAL_SECOND,
  type PollOutcome,
  SLOW_DOWN_INCREMENT_SECONDS,
} from '../../domain/poll-policy.js';
import { grantFromHashFields, grantToHashFields, pairsToRecord } from './grant-hash.js';
import { type KeyBuilder, keyBuilder } from './key-names.js';
import { userCodeRoutingTag } from '../../domain/codes.js';
import { splitTokenHash } from '../../domain/opaque-token.js';
import { callRedis, connectRedis, type RedisClient } from './connection.js';
import { LuaScript } from './lua-script.js';
import { type DeviceGrant, retentionMs } from '../../domain/device-grant.js';
import type { DeviceGrantRepository, GrantFloodLimit } from '../../domain/grant-repository.js';

/** poll-grant.lua's `$NAME` constants: the poll policy's numbers (one source: src/domain/poll-policy.ts). */
export const POLL_GRANT_CONSTANTS = { SLOW_DOWN_INCREMENT_SECONDS, POLL_LEEWAY_MS_PER_INTERVAL_SECOND, POLL_LEEWAY_MAX_MS } as const;

/** The device grant's scripts (lua/ beside this file; each file's header states its KEYS and ARGV). */
const scripts = {
  createGrant: new LuaScript('create-grant', 2),
  /** The same script with the two flood-limit counters (per client IP bucket, per client) as KEYS[3..4]. */
  createGrantWithinFloodLimit: new LuaScript('create-grant', 4),
  pollGrant: new LuaScript('poll-grant', 1, POLL_GRANT_CONSTANTS),
  decideGrant: new LuaScript('decide-grant', 1),
  findByUserCode: new LuaScript('find-grant-by-user-code', 1),
};

export class RedisDeviceGrantRepository implements DeviceGrantRepository {
  /**
   * One EVALSHA for grant and flood limit, on a standalone Redis only: on a Redis Cluster the counters
   * live in other slots than the grant (one script may touch one slot), so there the app keeps counting
   * with the limiter (src/app/endpoint.ts).
   */
  readonly createWithFloodLimit?: (grant: DeviceGrant, now: number, limit: GrantFloodLimit) => Promise<boolean | { readonly retryAfterMs: number }>;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyBuilder = keyBuilder(),
  ) {
    if (!(redis instanceof Cluster)) this.createWithFloodLimit = (grant, now, limit) => this.createCounted(grant, now, limit);
  }

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
        indexValue(grant),
        0, // no flood-limit counters
        ...grantToHashFields(grant),
      ),
    );
    return stored === 1;
  }

  private async createCounted(grant: DeviceGrant, now: number, limit: GrantFloodLimit): Promise<boolean | { retryAfterMs: number }> {
    const reply = await this.call(() =>
      scripts.createGrantWithinFloodLimit.run<0 | 1 | ['limited', number]>(
        this.redis,
        this.keys.userCodeIndex(grant.userCode),
        this.keys.grant(grant.deviceCodeHash),
        this.keys.deviceAuthorizationCounter('ip', limit.ipBucket),
        this.keys.deviceAuthorizationCounter('account', limit.clientId),
        retentionMs(grant, now),
        indexValue(grant),
        // The limits travel with every call (from config rate_limits.device_authorization): one source.
        limit.windowMs,
        limit.perIp,
        limit.perClient,
        ...grantToHashFields(grant),
      ),
    );
    return Array.isArray(reply) ? { retryAfterMs: Number(reply[1]) } : reply === 1;
  }

  /** One EVALSHA: the index and the grant it names (one slot: they share a hash tag). */
  async findByUserCode(userCode: string): Promise<DeviceGrant | null> {
    const reply = await this.call(() =>
      scripts.findByUserCode.run<string[]>(this.redis, this.keys.userCodeIndex(userCode), this.keys.grantTemplate()),
    );
    if (reply.length === 0) return null;
    const [deviceCodeHash, ...pairs] = reply;
    return grantFromHashFields(deviceCodeHash!, pairsToRecord(pairs));
  }

  async findByDeviceCodeHash(deviceCodeHash: string): Promise<DeviceGrant | null> {
    return grantFromHashFields(deviceCodeHash, await this.call(() => this.redis.hgetall(this.keys.grant(deviceCodeHash))));
  }

  /** One EVALSHA: the whole poll, including consumption, is one round trip. */
  poll(deviceCodeHash: string, clientId: string, now: number): Promise<PollOutcome> {
    return this.call(() =>
      scripts.pollGrant.run<[string, ...(string | number)[]]>(this.redis, this.keys.grant(deviceCodeHash), clientId, now),
    ).then((reply) => pollOutcome(deviceCodeHash, reply));
  }

  async decide(userCode: string, decision: Decision, now: number): Promise<DecisionOutcome> {
    const subject = decision.kind === 'approve' ? decision.subject : '';
    return this.call(() =>
      scripts.decideGrant.run<DecisionOutcome>(
        this.redis,
        this.keys.userCodeIndex(userCode),
        now,
        decision.kind,
        subject,
        this.keys.grantTemplate(),
      ),
    );
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private call<T>(command: () => Promise<T>): Promise<T> {
    return callRedis('grant store', command);
  }
}

/**
 * What the user-code index holds: the grant's device_code hash, without the routing tag when the tag
 * is the user code's own (always, for grants this version creates): 43 characters fit Redis's
 * embedded string encoding (≤ 44 bytes), one allocation instead of two. The scripts put the tag back
 * from the index key's name (decide-grant.lua, find-grant-by-user-code.lua).
 */
function indexValue(grant: DeviceGrant): string {
  const { tag, digest } = splitTokenHash(grant.deviceCodeHash);
  return tag !== null && tag === userCodeRoutingTag(grant.userCode) ? digest : grant.deviceCodeHash;
}

/** poll-grant.lua's reply → the outcome. */
function pollOutcome(deviceCodeHash: string, [kind, ...rest]: [string, ...(string | number)[]]): PollOutcome {
  switch (kind) {
    case 'slow_down':
      return { kind, interval: Number(rest[0]) };
    case 'approved':
      return { kind, grant: grantFromHashFields(deviceCodeHash, pairsToRecord(rest.map(String)))! };
    case 'invalid_grant':
    case 'expired_token':
    case 'access_denied':
    case 'authorization_pending':
      return { kind };
    default:
      throw new Error(`poll-grant.lua answered ${String(kind)}`);
  }
}
