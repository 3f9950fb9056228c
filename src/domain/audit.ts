import { splitTokenHash } from './opaque-token.js';
/**
 * Every transition of a grant, for the operator's audit trail (one JSON line each, from the pino
 * child logger `audit`). Never a code, token or secret: only who, which client, from where, which
 * request.
 */
export type AuditEvent =
  | 'issued' // device authorization: a grant was created (RFC 8628 §3.2)
  | 'approved' // the person approved on the verification pages
  | 'denied' // the person denied
  | 'redeemed' // an approved grant was exchanged for tokens (RFC 8628 §3.5)
  | 'expired_on_poll' // a poll found the grant expired
  | 'lockout' // a limiter refused (code entry, sign-in, client authentication, device authorization)
  | 'code_reuse' // an authorization code came back: what its first redemption issued is revoked (RFC 6749 §4.1.2)
  | 'refresh_reuse' // a used refresh token came back: its family is revoked (RFC 9700 §4.14.2)
  | 'revoked' // RFC 7009 revocation
  | 'signed_out'; // a verification-page session was ended everywhere

export interface AuditFields {
  readonly request_id?: string | undefined;
  readonly client_id?: string | null | undefined;
  readonly subject?: string | null | undefined;
  readonly ip?: string | null | undefined;
  readonly [detail: string]: unknown;
}

/**
 * How audit lines name a grant without a code: the first 16 characters (96 bits) of the SHA-256 of
 * its device_code (after the routing tag), i.e. of its Redis key name. Links issued → approved/denied
 * → redeemed/expired.
 */
export function grantReference(deviceCodeHash: string): string {
  return splitTokenHash(deviceCodeHash).digest.slice(0, 16);
}

/** The audit trail as the application layer sees it (src/http/audit.ts's AuditLog). */
export interface AuditTrail {
  /** false when no record would be kept: callers skip computing the fields (a hash, for a grant reference). */
  readonly enabled: boolean;
  record(event: AuditEvent, fields: AuditFields): void;
}

/** Where the domain reports a transition; the HTTP layer binds it to the request (id, client IP). */
export type AuditSink = (event: AuditEvent, fields: AuditFields) => void;
