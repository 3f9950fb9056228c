import { describe, expect, it } from 'vitest';
import { hashSecret, verifySecret } from '../../src/domain/password.js';

describe('secret hashing (scrypt, PHC string)', () => {
  it('verifies the right secret and refuses a wrong one', async () => {
    const hash = await hashSecret('hunter2');
    expect(hash).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await verifySecret('hunter2', hash)).toBe(true);
    expect(await verifySecret('hunter3', hash)).toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hashSecret('same')).not.toBe(await hashSecret('same'));
  });

  it('never verifies against a malformed stored hash', async () => {
    expect(await verifySecret('x', 'plain-text')).toBe(false);
    expect(await verifySecret('x', '$scrypt$ln=15,r=8,p=1$$')).toBe(false);
  });
});
