import type { RedisOptions } from 'ioredis';
import {
  assertStorableCode,
  type AuthorizationCode,
  type AuthorizationCodeRepository,
  REDEEMED_CODE_RETENTION_MS,
  type RedemptionResult,
} from '../../domain/authorization-code.js';
import { type AuthorizationCodeKeyBuilder, authorizationCodeKeyBuilder } from './key-names.js';
import { LuaScript } from './lua-script.js';
import { callRedis, connectRedis, type RedisClient } from './connection.js';


/** lua/*-authorization-code.lua; each file's header states its KEYS and ARGV. */
const scripts = {
  create: new LuaScript('create-authorization-code', 1),
  redeem: new LuaScript('redeem-authorization-code', 1),
};

type RedeemReply = [0] | [1, string] | [2, string, string];

/**
 * Authorization codes on Redis: one key per code, whose TTL is the code's lifetime; one script (one
 * round trip) to create and one to redeem, so single use holds across any number of instances.
 */
export class RedisAuthorizationCodeRepository implements AuthorizationCodeRepository {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: AuthorizationCodeKeyBuilder = authorizationCodeKeyBuilder(),
    private readonly options: { ownsConnection?: boolean } = {},
  ) {}

  static async connect(url: string, options: { keyPrefix?: string; redis?: RedisOptions } = {}): Promise<RedisAuthorizationCodeRepository> {
    return new RedisAuthorizationCodeRepository(await connectRedis(url, options.redis), authorizationCodeKeyBuilder(options.keyPrefix), {
      ownsConnection: true,
    });
  }

  async create(code: AuthorizationCode, now: number): Promise<boolean> {
    assertStorableCode(code, now);
    const stored = await callRedis('authorization code store', () =>
      scripts.create.run<0 | 1>(this.redis, this.keys.authorizationCode(code.codeHash), code.expiresAt - now, JSON.stringify(code)),
    );
    return stored === 1;
  }

  async redeem(codeHash: string, grantId: string, now: number): Promise<RedemptionResult> {
    const reply = await callRedis('authorization code store', () =>
      scripts.redeem.run<RedeemReply>(this.redis, this.keys.authorizationCode(codeHash), now, grantId, REDEEMED_CODE_RETENTION_MS),
    );
    switch (reply[0]) {
      case 1:
        return { kind: 'redeemed', code: JSON.parse(reply[1]) as AuthorizationCode };
      case 2:
        return { kind: 'reused', grantId: reply[2], clientId: (JSON.parse(reply[1]) as AuthorizationCode).clientId };
      default:
        return { kind: 'invalid' };
    }
  }

  async close(): Promise<void> {
    if (this.options.ownsConnection) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
