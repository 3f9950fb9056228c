import { describe, expect, it } from 'vitest';
import { pooledRandomBytes } from '../../src/domain/random.js';

describe('pooled CSPRNG bytes', () => {
  it('never hands out the same bytes twice, across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i++) seen.add(pooledRandomBytes(16).toString('hex')); // 8 refills of 4 KiB
    expect(seen.size).toBe(2_000);
  });

  it('returns exactly the size asked, larger than the pool too, and copies the caller owns', () => {
    expect(pooledRandomBytes(1)).toHaveLength(1);
    expect(pooledRandomBytes(5_000)).toHaveLength(5_000);
    const bytes = pooledRandomBytes(32);
    const copy = Buffer.from(bytes);
    for (let i = 0; i < 300; i++) pooledRandomBytes(32); // refill the pool under it
    expect(bytes.equals(copy)).toBe(true);
  });

  it('is not all zeros (the pool is filled before use)', () => {
    expect(pooledRandomBytes(64).some((byte) => byte !== 0)).toBe(true);
  });
});
