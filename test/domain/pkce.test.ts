import { describe, expect, it } from 'vitest';
import { isValidCodeVerifier, isValidS256Challenge, s256Challenge, verifyS256 } from '../../src/domain/pkce.js';

// RFC 7636 Appendix B: the worked S256 example.
const RFC_VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const RFC_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

describe('PKCE S256 (RFC 7636)', () => {
  it('computes the RFC 7636 Appendix B challenge', () => {
    expect(s256Challenge(RFC_VERIFIER)).toBe(RFC_CHALLENGE);
  });

  it('accepts the matching verifier and refuses any other', () => {
    expect(verifyS256(RFC_VERIFIER, RFC_CHALLENGE)).toBe(true);
    expect(verifyS256(`${RFC_VERIFIER.slice(0, -1)}l`, RFC_CHALLENGE)).toBe(false);
    expect(verifyS256('a'.repeat(43), RFC_CHALLENGE)).toBe(false);
  });

  it('refuses plain: the challenge presented as its own verifier does not match', () => {
    expect(verifyS256(RFC_CHALLENGE, RFC_CHALLENGE)).toBe(false);
  });

  it('checks the verifier charset and length 43–128 (§4.1)', () => {
    expect(isValidCodeVerifier('a'.repeat(42))).toBe(false);
    expect(isValidCodeVerifier('a'.repeat(43))).toBe(true);
    expect(isValidCodeVerifier('a'.repeat(128))).toBe(true);
    expect(isValidCodeVerifier('a'.repeat(129))).toBe(false);
    expect(isValidCodeVerifier(`${'a'.repeat(40)}-._~`)).toBe(true);
    for (const bad of ['+', '/', '=', ' ', '%', 'é', '\n']) expect(isValidCodeVerifier(`${'a'.repeat(42)}${bad}`)).toBe(false);
    // A verifier outside the charset is refused even when its hash would match.
    const tooShort = 'a'.repeat(42);
    expect(verifyS256(tooShort, s256Challenge(tooShort))).toBe(false);
    const tooLong = 'a'.repeat(129);
    expect(verifyS256(tooLong, s256Challenge(tooLong))).toBe(false);
  });

  it('accepts only 43-character base64url challenges (a SHA-256 digest)', () => {
    expect(isValidS256Challenge(RFC_CHALLENGE)).toBe(true);
    expect(isValidS256Challenge(`${RFC_CHALLENGE}=`)).toBe(false);
    expect(isValidS256Challenge(RFC_CHALLENGE.slice(1))).toBe(false);
    expect(isValidS256Challenge(RFC_CHALLENGE.replace('-', '+'))).toBe(false);
    expect(verifyS256(RFC_VERIFIER, `${RFC_CHALLENGE}A`)).toBe(false);
  });

  it('round-trips random verifiers of every legal length', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';
    for (let length = 43; length <= 128; length++) {
      const verifier = Array.from({ length }, (_, i) => alphabet[(i * 7 + length) % alphabet.length]).join('');
      expect(verifyS256(verifier, s256Challenge(verifier))).toBe(true);
    }
  });
});
