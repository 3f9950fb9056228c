import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { TemporarilyUnavailableError } from '../domain/errors.js';
import { grantFromHashFields, grantToHashFields } from './grant-hash.js';
import { type KeyBuilder, keyBuilder } from './keys.js';
import { type DeviceGrant, type DeviceGrantRepository, retentionMs } from './repository.js';

const lua = (name: string) => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');

interface DeviceGrantCommands {
  dgCreateGrant(userCodeIndexKey: string, grantKey: string, ttlMs: number, ...fields: string[]): Promise<0 | 1>;
}

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

export class RedisDeviceGrantRepository implements DeviceGrantRepository {
  private readonly redis: Redis & DeviceGrantCommands;

  constructor(
    redis: Redis,
    private readonly keys: KeyBuilder = keyBuilder(),
  ) {
    redis.defineCommand('dgCreateGrant', { numberOfKeys: 2, lua: lua('create-grant') });
    this.redis = redis as Redis & DeviceGrantCommands;
  }

  /** Connects and waits until Redis answers; throws when it cannot. */
  static async connect(
    url: string,
    options: { keyPrefix?: string; redis?: RedisOptions } = {},
  ): Promise<RedisDeviceGrantRepository> {
    const redis = new Redis(url, redisOptions(options.redis));
    // Connection errors surface as rejected commands (503); without a listener ioredis would log them.
    redis.on('error', () => {});
    await redis.connect();
    return new RedisDeviceGrantRepository(redis, keyBuilder(options.keyPrefix));
  }

  async create(grant: DeviceGrant, now: number): Promise<boolean> {
    const stored = await this.call(() =>
      this.redis.dgCreateGrant(
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

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Any Redis failure (down, timeout, refused) becomes a retryable 503 for the client. */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new TemporarilyUnavailableError('the grant store is unavailable; retry shortly', { cause: error });
    }
  }
}
