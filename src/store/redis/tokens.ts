import { Cluster, type RedisOptions } from 'ioredis';
import { routingTagOf } from '../../domain/opaque-token.js';
import { pairsToRecord } from './grant-hash.js';
import { type TokenKeyBuilder, tokenKeyBuilder } from './key-names.js';
import { LuaScript } from './lua-script.js';
import { callRedis, connectRedis, type RedisClient } from './connection.js';
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


type RotateReply = ['rotated', ...string[]] | ['reused', string] | ['invalid'] | ['conflict'];

/** The refresh-token scripts (lua/ beside this file; each file's header states its KEYS and ARGV). */
const scripts = {
  saveRefreshToken: new LuaScript('save-refresh-token', 2),
  rotateRefreshToken: new LuaScript('rotate-refresh-token', 2),
  findRefreshToken: new LuaScript('find-refresh-token', 1),
  revokeRefreshToken: new LuaScript('revoke-refresh-token', 1),
};

/**
 * A refresh token as the fields of a Redis hash, snake_case like the grant hash so that `HGETALL`
 * reads like the README's table. Only the token's hash is stored, never the token.
 */
export function refreshTokenToHashFields(record: RefreshTokenRecord, status: 'active' | 'used' = 'active'): string[] {
  return [
    'token_hash', record.tokenHash,
    'family_id', record.familyId,
    'client_id', record.clientId,
    'subject', record.subject,
    'scope', record.scope.join(' '),
    'resource', JSON.stringify(record.resource),
    'created_at', String(record.createdAt),
    'expires_at', String(record.expiresAt),
    'status', status,
  ];
}

export function refreshTokenFromHashFields(hash: Record<string, string>): RefreshTokenRecord | null {
  if (hash.token_hash === undefined) return null;
  return {
    tokenHash: hash.token_hash,
    familyId: hash.family_id ?? '',
    clientId: hash.client_id ?? '',
    subject: hash.subject ?? '',
    scope: hash.scope ? hash.scope.split(' ') : [],
    resource: hash.resource ? (JSON.parse(hash.resource) as string[]) : [],
    createdAt: Number(hash.created_at),
    expiresAt: Number(hash.expires_at),
  };
}

/**
 * Refresh tokens and the access-token deny-list on Redis. Every read-modify-write is one Lua script
 * (one EVALSHA round trip, atomic); see lua/*-refresh-token.lua beside this file.
 */
export class RedisTokenRepository implements TokenRepository {
  private readonly redis: RedisClient;
  private readonly ownsConnection: boolean;
  /** What the scripts prepend to a family id: the key builder stays the only place names are made. */
  private readonly familyKeyPrefix: string;

  /**
   * Uses an existing connection (e.g. the one the device-grant repository uses). By default the
   * connection is borrowed and `close()` leaves it open; `connect()` makes a repository that owns it.
   */
  constructor(
    redis: RedisClient,
    private readonly keys: TokenKeyBuilder = tokenKeyBuilder(),
    options: { ownsConnection?: boolean } = {},
  ) {
    this.redis = redis;
    this.ownsConnection = options.ownsConnection ?? false;
    this.familyKeyPrefix = keys.refreshFamily('');
    this.onCluster = redis instanceof Cluster;
  }

  /** True on a Redis Cluster, where a script may only touch keys of its first key's slot. */
  private readonly onCluster: boolean;

  /**
   * Whether the scripts may run for this token hash. Every token this version issues carries its family
   * id as routing tag, so its key and its family marker share a slot. On a Cluster, a hash without a tag
   * (a forged token; Cluster support came with the tags) or a successor with another tag cannot be one of
   * ours: it is answered "invalid" without asking Redis, instead of a cross-slot error (a 503).
   */
  private sameSlot(tokenHash: string, nextTokenHash?: string): boolean {
    if (!this.onCluster) return true;
    const tag = routingTagOf(tokenHash);
    return tag !== null && (nextTokenHash === undefined || routingTagOf(nextTokenHash) === tag);
  }

  /** Connects and waits until Redis answers; throws when it cannot. The repository owns the connection. */
  static async connect(url: string, options: { keyPrefix?: string; redis?: RedisOptions } = {}): Promise<RedisTokenRepository> {
    const redis = await connectRedis(url, options.redis);
    return new RedisTokenRepository(redis, tokenKeyBuilder(options.keyPrefix), { ownsConnection: true });
  }

  async saveRefreshToken(record: RefreshTokenRecord, now: number): Promise<void> {
    assertSavable(record, now);
    const stored = await this.call(() =>
      scripts.saveRefreshToken.run<0 | 1>(
        this.redis,
        this.keys.refreshToken(record.tokenHash),
        this.keys.refreshFamily(record.familyId),
        record.expiresAt - now,
        ...refreshTokenToHashFields(record),
      ),
    );
    if (stored !== 1) throw new RefreshTokenConflictError('refresh token or family already stored');
  }

  async rotateRefreshToken(rotation: RotationRequest, now: number): Promise<RotationResult> {
    assertRotationRequest(rotation);
    if (!this.sameSlot(rotation.tokenHash, rotation.nextTokenHash)) return { kind: 'invalid' };
    const reply = await this.call(() =>
      scripts.rotateRefreshToken.run<RotateReply>(
        this.redis,
        this.keys.refreshToken(rotation.tokenHash),
        this.keys.refreshToken(rotation.nextTokenHash),
        this.familyKeyPrefix,
        rotation.clientId,
        now,
        rotation.nextTokenHash,
        rotation.ttlMs,
        now + rotation.ttlMs,
      ),
    );
    switch (reply[0]) {
      case 'rotated': {
        const previous = refreshTokenFromHashFields(pairsToRecord(reply.slice(1)));
        if (!previous) throw new Error('rotate-refresh-token.lua returned no token');
        return { kind: 'rotated', previous, next: nextRecord(previous, rotation, now) };
      }
      case 'reused':
        return { kind: 'reused', familyId: reply[1] };
      case 'invalid':
        return { kind: 'invalid' };
      case 'conflict':
        throw new RefreshTokenConflictError('the next refresh token hash is already stored');
      default:
        throw new Error(`unexpected reply from rotate-refresh-token.lua: ${String(reply[0])}`);
    }
  }

  async findRefreshToken(tokenHash: string, now: number): Promise<RefreshTokenRecord | null> {
    if (!this.sameSlot(tokenHash)) return null;
    const pairs = await this.call(() => scripts.findRefreshToken.run<string[]>(this.redis, this.keys.refreshToken(tokenHash), this.familyKeyPrefix, now));
    return refreshTokenFromHashFields(pairsToRecord(pairs));
  }

  async revokeRefreshToken(tokenHash: string, clientId: string, now: number): Promise<boolean> {
    if (!this.sameSlot(tokenHash)) return false;
    const revoked = await this.call(() =>
      scripts.revokeRefreshToken.run<0 | 1>(this.redis, this.keys.refreshToken(tokenHash), this.familyKeyPrefix, clientId, now),
    );
    return revoked === 1;
  }

  async revokeAccessToken(jti: string, expiresAt: number, now: number): Promise<void> {
    if (expiresAt <= now) return; // already refused for being expired
    await this.call(() => this.redis.set(this.keys.revokedJti(jti), '1', 'PX', expiresAt - now));
  }

  async revokeFamily(familyId: string, markerTtlMs: number): Promise<void> {
    const key = this.keys.refreshFamily(familyId);
    // A stored family keeps its lifetime (that of its newest token); a missing one gets a marker.
    const updated = await this.call(() => this.redis.set(key, 'revoked', 'KEEPTTL', 'XX'));
    if (updated !== 'OK') await this.call(() => this.redis.set(key, 'revoked', 'PX', Math.max(1, markerTtlMs), 'NX'));
  }

  async isFamilyRevoked(familyId: string): Promise<boolean> {
    return (await this.call(() => this.redis.get(this.keys.refreshFamily(familyId)))) === 'revoked';
  }

  async isAccessTokenRevoked(jti: string): Promise<boolean> {
    return (await this.call(() => this.redis.exists(this.keys.revokedJti(jti)))) === 1;
  }

  async close(): Promise<void> {
    if (this.ownsConnection) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private call<T>(command: () => Promise<T>): Promise<T> {
    return callRedis('token store', command);
  }
}
