import type { DeviceGrant } from './device-grant.js';

/**
 * The rules of RFC 8628 §3.4–3.5, pure: given a grant's stored state and a poll, what the client is
 * told and what must be stored. store/memory/grants.ts applies them directly; store/redis/grants.ts runs the same rules in
 * one Lua script (src/store/redis/lua/poll-grant.lua); one contract suite holds both to the same answers.
 */
export type PollOutcome =
  /** Unknown code, another client's code, or a code already redeemed (RFC 6749 §5.2). */
  | { readonly kind: 'invalid_grant' }
  | { readonly kind: 'expired_token' }
  /** Too soon: the grant's interval is now `interval` seconds (RFC 8628 §3.5). */
  | { readonly kind: 'slow_down'; readonly interval: number }
  | { readonly kind: 'access_denied' }
  | { readonly kind: 'authorization_pending' }
  /** Approved, and now consumed: this poll, and no other, gets the tokens. */
  | { readonly kind: 'approved'; readonly grant: DeviceGrant };

/** RFC 8628 §3.5: slow_down adds 5 seconds to the interval for this and all later requests. */
export const SLOW_DOWN_INCREMENT_SECONDS = 5;

/**
 * Network jitter leeway: a poll counts as too fast only when it arrives more than this many ms before
 * `lastPolledAt + interval`: 20 % of the interval, at most 1 s. A client that waits the full interval
 * after each answer always polls later than that, however the round trips vary.
 */
export function pollLeewayMs(intervalSeconds: number): number {
  return Math.min(POLL_LEEWAY_MAX_MS, intervalSeconds * POLL_LEEWAY_MS_PER_INTERVAL_SECOND);
}

/** 20 % of the interval: 200 ms per second of interval. */
export const POLL_LEEWAY_MS_PER_INTERVAL_SECOND = 200;
/** The leeway never exceeds 1 s. */
export const POLL_LEEWAY_MAX_MS = 1_000;

export interface PollDecision {
  readonly outcome: PollOutcome;
  /** The state to store, or null when nothing changes. */
  readonly next: DeviceGrant | null;
}

export function decidePoll(grant: DeviceGrant | null, clientId: string, now: number): PollDecision {
  // RFC 8628 §3.4: the device_code must have been issued to this client.
  if (!grant || grant.clientId !== clientId || grant.status === 'consumed') return unchanged({ kind: 'invalid_grant' });
  if (now >= grant.expiresAt) return unchanged({ kind: 'expired_token' });

  if (grant.lastPolledAt !== null && now < grant.lastPolledAt + grant.interval * 1000 - pollLeewayMs(grant.interval)) {
    // RFC 8628 §3.5: the increase is persisted, and the poll time recorded, so a client that then
    // honours the new interval gets authorization_pending (never a slow_down loop).
    const interval = grant.interval + SLOW_DOWN_INCREMENT_SECONDS;
    return { outcome: { kind: 'slow_down', interval }, next: { ...grant, interval, lastPolledAt: now } };
  }
  const polled = { ...grant, lastPolledAt: now };
  switch (grant.status) {
    case 'denied':
      return { outcome: { kind: 'access_denied' }, next: polled };
    case 'approved': {
      const consumed: DeviceGrant = { ...polled, status: 'consumed' };
      return { outcome: { kind: 'approved', grant: consumed }, next: consumed };
    }
    default:
      return { outcome: { kind: 'authorization_pending' }, next: polled };
  }
}

/** What the person's decision did (the verification pages show it). */
export type DecisionOutcome = 'approved' | 'denied' | 'not_found' | 'expired' | 'already_decided';

export type Decision = { readonly kind: 'approve'; readonly subject: string } | { readonly kind: 'deny' };

export interface DecisionResult {
  readonly outcome: DecisionOutcome;
  readonly next: DeviceGrant | null;
}

/**
 * Why the person can no longer approve or deny this grant, or null when they still can: it must
 * exist, not have expired (RFC 8628 §3.5) and still be pending (a decision applies once). The pages
 * ask this before showing a code's confirmation; decide-grant.lua applies the same checks atomically.
 */
export function decisionBlocker(
  grant: DeviceGrant | null,
  now: number,
): Exclude<DecisionOutcome, 'approved' | 'denied'> | null {
  if (!grant) return 'not_found';
  if (now >= grant.expiresAt) return 'expired';
  if (grant.status !== 'pending') return 'already_decided';
  return null;
}

export function isDecidable(grant: DeviceGrant | null, now: number): grant is DeviceGrant {
  return decisionBlocker(grant, now) === null;
}

/** Approval or denial applies once, to a pending grant that has not expired. */
export function decideGrant(grant: DeviceGrant | null, decision: Decision, now: number): DecisionResult {
  const blocker = decisionBlocker(grant, now);
  if (blocker !== null || !grant) return { outcome: blocker ?? 'not_found', next: null };
  if (decision.kind === 'deny') return { outcome: 'denied', next: { ...grant, status: 'denied', decidedAt: now } };
  return { outcome: 'approved', next: { ...grant, status: 'approved', subject: decision.subject, decidedAt: now } };
}

function unchanged(outcome: PollOutcome): PollDecision {
  return { outcome, next: null };
}
