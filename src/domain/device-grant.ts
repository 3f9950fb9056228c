/** The device authorization grant (RFC 8628 §3.1–3.5), the entity both stores hold. */
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
 * The longest User-Agent kept with a grant (characters; longer ones are cut). It is only shown on the
 * confirmation page (RFC 8628 §5.4: help the person recognise the device); real ones are 20–150
 * characters, and every stored byte counts at a million pending grants (README, "Redis keys").
 */
export const MAX_STORED_USER_AGENT_LENGTH = 256;

/**
 * RFC 8628 §3.5 wants a late poll to learn `expired_token`, so a grant stays stored this long after
 * `expiresAt` (a tombstone) before its keys disappear.
 */
export const EXPIRED_GRANT_TOMBSTONE_MS = 10 * 60 * 1000;

/** How long the store keeps a grant (and its user-code index): expiry plus the tombstone. */
export function retentionMs(grant: Pick<DeviceGrant, 'expiresAt'>, now: number): number {
  return Math.max(1, grant.expiresAt + EXPIRED_GRANT_TOMBSTONE_MS - now);
}
