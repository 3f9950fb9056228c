import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/** scrypt (memory-hard) cost: N = 2^15, r = 8, p = 1 (OWASP's minimum recommendation). */
const DEFAULT_COST = { ln: 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** Hashes a password or client secret into a PHC-style string: `$scrypt$ln=15,r=8,p=1$<salt>$<hash>`. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const { ln, r, p } = DEFAULT_COST;
  const key = await derive(secret, salt, ln, r, p);
  return `$scrypt$ln=${ln},r=${r},p=${p}$${b64(salt)}$${b64(key)}`;
}

/** Constant-time comparison; a malformed stored hash never verifies. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const match = PHC.exec(stored);
  if (!match) return false;
  const [, ln, r, p, salt, hash] = match;
  const expected = Buffer.from(hash!, 'base64');
  const actual = await derive(secret, Buffer.from(salt!, 'base64'), Number(ln), Number(r), Number(p), expected.length);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

function derive(secret: string, salt: Buffer, ln: number, r: number, p: number, keylen = KEY_LENGTH): Promise<Buffer> {
  const N = 2 ** ln;
  return scrypt(secret.normalize('NFC'), salt, keylen, { N, r, p, maxmem: 256 * N * r });
}

const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');
