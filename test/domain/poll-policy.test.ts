import { describe, expect, it } from 'vitest';
import { decideGrant, decisionBlocker, isDecidable, pollLeewayMs } from '../../src/domain/poll-policy.js';
import { pendingGrant, stored } from '../support/grants.js';

/** The one rule the pages and both stores share: whether a grant can still be approved or denied. */
describe('decisionBlocker / isDecidable', () => {
  const now = 1_700_000_000_000;
  const grant = stored(pendingGrant(now));

  it('a pending grant before its expiry can be decided', () => {
    expect(decisionBlocker(grant, now)).toBeNull();
    expect(isDecidable(grant, grant.expiresAt - 1)).toBe(true);
  });

  it.each([
    ['no grant', null, now, 'not_found'],
    ['at expiry', grant, grant.expiresAt, 'expired'],
    ['approved', { ...grant, status: 'approved' as const }, now, 'already_decided'],
    ['denied', { ...grant, status: 'denied' as const }, now, 'already_decided'],
    ['consumed', { ...grant, status: 'consumed' as const }, now, 'already_decided'],
  ])('%s: %s', (_, candidate, at, blocker) => {
    expect(decisionBlocker(candidate, at)).toBe(blocker);
    expect(isDecidable(candidate, at)).toBe(false);
    expect(decideGrant(candidate, { kind: 'deny' }, at)).toEqual({ outcome: blocker, next: null });
  });

  it('decideGrant applies a decision exactly when the grant is decidable', () => {
    expect(decideGrant(grant, { kind: 'approve', subject: 'alice' }, now)).toEqual({
      outcome: 'approved',
      next: { ...grant, status: 'approved', subject: 'alice', decidedAt: now },
    });
  });
});

describe('pollLeewayMs', () => {
  it('is 20 % of the interval, at most 1 s', () => {
    expect(pollLeewayMs(1)).toBe(200);
    expect(pollLeewayMs(5)).toBe(1_000);
    expect(pollLeewayMs(30)).toBe(1_000);
  });
});
