import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateOpaqueToken, hashOpaqueToken } from '../../src/domain/opaque-token.js';

describe('opaque tokens', () => {
  it('are 256 random bits as 43 base64url characters, never repeated', () => {
    const tokens = new Set(Array.from({ length: 1_000 }, generateOpaqueToken));
    expect(tokens.size).toBe(1_000);
    for (const token of tokens) expect(Buffer.from(token, 'base64url')).toHaveLength(32);
  });

  it('are stored as SHA-256, base64url', () => {
    expect(hashOpaqueToken('abc')).toBe(createHash('sha256').update('abc').digest('base64url'));
    expect(hashOpaqueToken('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });
});
