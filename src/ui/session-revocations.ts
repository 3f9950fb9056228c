import type { RedisClient } from '../store/redis/connection.js';
import { sessionEndedKey } from '../store/redis/key-names.js';
import type { Clock } from '../domain/clock.js';
import { callRedis } from '../store/redis/connection.js';
import type { Session } from './session.js';

/**
 * Sign-out that holds everywhere. Sessions are signed cookies (no server state), so a copy of a
 * signed-in cookie would stay valid until it expires; signing out records the session id as ended
 * until that expiry, and every page checks the mark for a signed-in session. On Redis the mark is
 * one key (`<prefix>session_ended:<id>`, PX = the session's remaining life), so signing out on one
 * instance ends the session on all of them; anonymous sessions are never looked up.
 */
export interface SessionRevocations {
  end(session: Session): Promise<void>;
  isEnded(session: Session): Promise<boolean>;
}

/** Single process (the memory store): a map of ended ids, pruned as they expire. */
export class MemorySessionRevocations implements SessionRevocations {
  private readonly ended = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  async end(session: Session): Promise<void> {
    const now = this.clock.now();
    for (const [id, expiresAt] of this.ended) if (expiresAt <= now) this.ended.delete(id);
    if (session.expiresAt > now) this.ended.set(session.id, session.expiresAt);
  }

  async isEnded(session: Session): Promise<boolean> {
    const expiresAt = this.ended.get(session.id);
    return expiresAt !== undefined && expiresAt > this.clock.now();
  }
}

export class RedisSessionRevocations implements SessionRevocations {
  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly clock: Clock,
  ) {}

  async end(session: Session): Promise<void> {
    const remaining = session.expiresAt - this.clock.now();
    if (remaining <= 0) return; // expired already: refused for that
    await callRedis('session store', () => this.redis.set(this.key(session), '1', 'PX', remaining));
  }

  async isEnded(session: Session): Promise<boolean> {
    return (await callRedis('session store', () => this.redis.exists(this.key(session)))) === 1;
  }

  private key(session: Session): string {
    return sessionEndedKey(this.keyPrefix, session.id);
  }
}
