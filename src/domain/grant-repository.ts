import type { DeviceGrant } from './device-grant.js';
import type { Decision, DecisionOutcome, PollOutcome } from './poll-policy.js';

/**
 * The repository of device grants: a handful of domain verbs, two implementations
 * (src/store/memory/grants.ts, src/store/redis/grants.ts) that pass one contract suite
 * (test/store/grant-repository.contract.ts).
 */
export interface DeviceGrantRepository {
  /**
   * Optional: `create` with the device authorization flood limit counted in the same atomic step (one
   * round trip). Offered only where the counters can share that step with the grant (a standalone Redis;
   * not a Redis Cluster, where they live in other slots; not the memory store). Fixed window per
   * counter (the first hit starts it); over a limit nothing is written and the reply is the longest
   * remaining window of the refused counters, and a point taken from a counter that was not refused
   * goes back (the request does not happen). A user-code collision counts nothing (the caller retries).
   */
  createWithFloodLimit?(grant: DeviceGrant, now: number, limit: GrantFloodLimit): Promise<boolean | { readonly retryAfterMs: number }>;
  /**
   * Stores a new grant and its user-code index atomically, with one shared TTL. Returns false (and
   * writes nothing) when a live grant already holds the user code: the caller retries with a new one.
   */
  create(grant: DeviceGrant, now: number): Promise<boolean>;
  /** The grant a user code points to, expired ones included until their tombstone ends. */
  findByUserCode(userCode: string): Promise<DeviceGrant | null>;
  findByDeviceCodeHash(deviceCodeHash: string): Promise<DeviceGrant | null>;
  /**
   * One poll of the token endpoint (RFC 8628 §3.4–3.5), atomically: checks expiry, enforces and
   * persists the interval, records the poll and, on an approved grant, consumes it. Of any number
   * of concurrent polls after approval exactly one gets `approved`. Rules: src/domain/poll-policy.ts.
   */
  poll(deviceCodeHash: string, clientId: string, now: number): Promise<PollOutcome>;
  /** The person approves (recording who) or denies, once; the grant keeps the scope it was issued with. */
  decide(userCode: string, decision: Decision, now: number): Promise<DecisionOutcome>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/** The limiter name of the device authorization flood limit (metrics label, audit, counter keys). */
export const DEVICE_AUTHORIZATION_LIMITER = 'device_authorization';

/** Device authorizations allowed per client IP bucket and per client in one fixed window (config `rate_limits.device_authorization`). */
export interface GrantFloodLimit {
  /** The client IP's bucket (IPv6 by its /64): src/domain/ip-bucket.ts. */
  readonly ipBucket: string;
  readonly clientId: string;
  readonly perIp: number;
  readonly perClient: number;
  readonly windowMs: number;
}
