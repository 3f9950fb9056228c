import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  formatUserCode,
  generateDeviceCode,
  userCodeRoutingTag,
  generateUserCode,
  hashDeviceCode,
  normaliseUserCode,
  USER_CODE_ALPHABET,
  USER_CODE_LENGTH,
} from '../../src/domain/codes.js';

describe('user codes', () => {
  it('uses the 31-character alphabet without confusable characters', () => {
    expect(USER_CODE_ALPHABET).toHaveLength(31);
    expect(new Set(USER_CODE_ALPHABET).size).toBe(31);
    for (const confusable of ['0', 'O', '1', 'I', 'L']) expect(USER_CODE_ALPHABET).not.toContain(confusable);
    expect(USER_CODE_ALPHABET).toMatch(/^[A-Z2-9]+$/);
  });

  it('draws 8 characters from the alphabet and shows them as XXXX-XXXX', () => {
    for (let i = 0; i < 1_000; i++) {
      const code = generateUserCode();
      expect(code).toMatch(new RegExp(`^[${USER_CODE_ALPHABET}]{${USER_CODE_LENGTH}}$`));
      expect(formatUserCode(code)).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    }
  });

  it('draws every character uniformly (chi-square, 30 degrees of freedom)', () => {
    const counts = new Map<string, number>();
    const codes = 20_000;
    for (let i = 0; i < codes; i++) for (const char of generateUserCode()) counts.set(char, (counts.get(char) ?? 0) + 1);
    const expected = (codes * USER_CODE_LENGTH) / USER_CODE_ALPHABET.length;
    let chiSquare = 0;
    for (const char of USER_CODE_ALPHABET) chiSquare += ((counts.get(char) ?? 0) - expected) ** 2 / expected;
    // Critical value at p = 1e-6 for 30 degrees of freedom (a fair generator fails once in a million
    // runs). A plain `byte % 31` (bias 9/256 vs 8/256) scores about 450 here, so the test has teeth.
    expect(chiSquare).toBeLessThan(82.04);
  });

  it('rejects the bytes that would bias the modulo instead of folding them', () => {
    // Bytes 248..255 would map to the first 8 characters a second time; they must be skipped.
    const bytes = [255, 248, 0, 30, 31, 247, 249, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const code = generateUserCode(() => Buffer.from(bytes));
    expect(code).toBe(
      [0, 30, 31, 247, 1, 2, 3, 4].map((b) => USER_CODE_ALPHABET[b % USER_CODE_ALPHABET.length]).join(''),
    );
  });

  it('normalises what people type: case, spaces, dashes', () => {
    expect(normaliseUserCode('wdjb-mjht')).toBe('WDJBMJHT');
    expect(normaliseUserCode('WDJBMJHT')).toBe('WDJBMJHT');
    expect(normaliseUserCode(' wdjb  mjht ')).toBe('WDJBMJHT');
    expect(normaliseUserCode('WD-JB--MJ-HT')).toBe('WDJBMJHT');
    expect(normaliseUserCode('WDJB-MJH')).toBeNull();
    expect(normaliseUserCode('WDJB-MJH0')).toBeNull(); // 0 is not in the alphabet
    expect(normaliseUserCode('')).toBeNull();
  });
});

describe('device codes', () => {
  it('is the user code routing tag, a dot, then 32 random bytes as 43 base64url characters, never repeated', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1_000; i++) {
      const userCode = generateUserCode();
      const code = generateDeviceCode(userCode);
      expect(code).toMatch(/^[A-Za-z0-9_-]{4}\.[A-Za-z0-9_-]{43}$/);
      expect(code.slice(0, 4)).toBe(userCodeRoutingTag(userCode));
      expect(Buffer.from(code.slice(5), 'base64url')).toHaveLength(32);
      seen.add(code);
    }
    expect(seen.size).toBe(1_000);
  });

  it('is stored as its routing tag and the SHA-256 of the whole code cut to 168 bits (28 base64url characters)', () => {
    const code = generateDeviceCode('WDJBMJHT');
    expect(hashDeviceCode(code)).toBe(`${userCodeRoutingTag('WDJBMJHT')}.${createHash('sha256').update(code).digest('base64url').slice(0, 28)}`);
    expect(hashDeviceCode(code)).toBe(hashDeviceCode(code));
    expect(hashDeviceCode(code)).not.toContain(code.slice(5));
  });

  it('hashes a code without a well-formed tag (forged) to a bare digest, so no brace reaches a key name', () => {
    for (const forged of ['abc', '{x}.abcdef', '.abc', 'a'.repeat(65) + '.b', 'a b.c']) {
      expect(hashDeviceCode(forged)).toBe(createHash('sha256').update(forged).digest('base64url').slice(0, 28));
    }
  });
});
