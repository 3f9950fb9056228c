import type { DeviceGrant } from './device-grant.js';
import type { Decision, DecisionOutcome, PollOutcome } from './poll-policy.js';

/**
 * The repository of device grants: a handful of domain verbs, two implementations
 * (src/store/memory/grants.ts, src/store/redis/grants.ts) that pass one contract suite
 * (test/store/grant-repository.contract.ts).
 */
export interface DeviceGrantRepository {
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
