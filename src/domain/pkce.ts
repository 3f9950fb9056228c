import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * PKCE with S256 only (RFC 7636; OAuth 2.1 §4.1.1 and the MCP authorization spec require S256 and
 * refuse `plain`, whose challenge is the verifier itself and protects nothing against a leaked request).
 */
export const PKCE_METHOD = 'S256';

/** RFC 7636 §4.1: code_verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~". */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** RFC 7636 §4.2: an S256 challenge is BASE64URL(SHA256(verifier)) without padding: 32 bytes → 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** True when `verifier` has the RFC 7636 §4.1 charset and length; a token endpoint refuses anything else. */
export function isValidCodeVerifier(verifier: string): boolean {
  return CODE_VERIFIER.test(verifier);
}

/** True when `challenge` can be an S256 challenge at all (checked at the authorization endpoint). */
export function isValidS256Challenge(challenge: string): boolean {
  return S256_CHALLENGE.test(challenge);
}

/** RFC 7636 §4.2: code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier))). */
export function s256Challenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/**
 * RFC 7636 §4.6: the token endpoint recomputes the challenge from the verifier and compares it with
 * the one stored with the code. A malformed verifier never matches (§4.1 is checked first). The
 * comparison is constant-time over the decoded 32-byte digests, so response timing says nothing about
 * how much of a guessed verifier was right.
 */
export function verifyS256(verifier: string, storedChallenge: string): boolean {
  if (!isValidCodeVerifier(verifier) || !isValidS256Challenge(storedChallenge)) return false;
  const computed = createHash('sha256').update(verifier, 'ascii').digest();
  const expected = Buffer.from(storedChallenge, 'base64url');
  return expected.length === computed.length && timingSafeEqual(computed, expected);
}
