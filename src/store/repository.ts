import type { Decision, DecisionOutcome, PollOutcome } from '../domain/poll-policy.js';

/**
 * The repository of device grants: a handful of domain verbs, two implementations (memory.ts,
 * redis.ts) that pass one contract suite (test/store/repository.contract.ts).
 */
export type GrantStatus = 'pending' | 'approved' | 'denied' | 'consumed';

/** The state of one device authorization grant, as stored (times in ms since the epoch). */
export interface DeviceGrant {
  /** SHA-256 (base64url) of the device_code; the raw code is never stored. */
  readonly deviceCodeHash: string;
  /** Normalised user code (8 characters, no dash). */
  readonly userCode: string;
  readonly clientId: string;
  readonly scope: readonly string[];
  /** RFC 8707 resource indicators the client asked for (token audiences). */
  readonly resource: readonly string[];
  readonly status: GrantStatus;
  /** Current minimum seconds between polls; grows by 5 on every slow_down (RFC 8628 §3.5). */
  readonly interval: number;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly lastPolledAt: number | null;
  /** The person who approved, once approved. */
  readonly subject: string | null;
  readonly decidedAt: number | null;
  /** Where the request came from, shown on the confirmation page (RFC 8628 §5.4). */
  readonly requester: { readonly ip: string | null; readonly userAgent: string | null };
}

/**
 * RFC 8628 §3.5 wants a late poll to learn `expired_token`, so a grant stays stored this long after
 * `expiresAt` (a tombstone) before its keys disappear.
 */
export const EXPIRED_GRANT_TOMBSTONE_MS = 10 * 60 * 1000;

/** How long the store keeps a grant (and its user-code index): expiry plus the tombstone. */
export function retentionMs(grant: Pick<DeviceGrant, 'expiresAt'>, now: number): number {
  return Math.max(1, grant.expiresAt + EXPIRED_GRANT_TOMBSTONE_MS - now);
}

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
  /** The person approves (recording who, and possibly fewer scopes) or denies, once. */
  decide(userCode: string, decision: Decision, now: number): Promise<DecisionOutcome>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}
