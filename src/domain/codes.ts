import { hash } from 'node:crypto';
import { generateOpaqueToken, hashOpaqueToken } from './opaque-token.js';
import { pooledRandomBytes } from './random.js';

/**
 * RFC 8628 §6.1: user codes are short, typed by people, and must resist guessing. 31 characters:
 * upper-case letters and digits without the confusable 0/O, 1/I/L (the alphabet the issue fixes).
 */
export const USER_CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const USER_CODE_LENGTH = 8;
const DISPLAY_GROUP = 4;

// Largest multiple of the alphabet size that fits in a byte: bytes at or above it are rejected so
// that every character is equally likely (no modulo bias).
const UNBIASED_BYTE_LIMIT = 256 - (256 % USER_CODE_ALPHABET.length);

/**
 * RFC 8628 §3.2 device_code: 32 random bytes, base64url (43 characters), behind the routing tag of
 * its user code (`<4 characters>.<43 characters>`). Polling (device_code only) and code entry
 * (user_code only) then both name the same Redis Cluster hash slot (src/store/redis/key-names.ts).
 */
export function generateDeviceCode(userCode: string): string {
  return generateOpaqueToken(userCodeRoutingTag(userCode));
}

/**
 * The routing tag of a normalised user code: 4 base64url characters of its SHA-256 (24 bits, far more
 * values than Redis Cluster's 16,384 slots, so grants spread evenly). It reveals nothing the device
 * does not already show: the user code is displayed beside the device code.
 */
export function userCodeRoutingTag(userCode: string): string {
  return hash('sha256', userCode, 'base64url').slice(0, 4);
}

/** A normalised user code: 8 characters from the alphabet, no separator. */
export function generateUserCode(random: (size: number) => Buffer = pooledRandomBytes): string {
  let code = '';
  while (code.length < USER_CODE_LENGTH) {
    for (const byte of random(USER_CODE_LENGTH * 2)) {
      if (byte >= UNBIASED_BYTE_LIMIT) continue;
      code += USER_CODE_ALPHABET[byte % USER_CODE_ALPHABET.length];
      if (code.length === USER_CODE_LENGTH) break;
    }
  }
  return code;
}

/** `WDJBMJHT` → `WDJB-MJHT`. */
export function formatUserCode(normalised: string): string {
  return `${normalised.slice(0, DISPLAY_GROUP)}-${normalised.slice(DISPLAY_GROUP)}`;
}

/**
 * What a person typed → the normalised code, or null when it cannot be one. Accepts lower case,
 * spaces and any number of dashes (RFC 8628 §6.1: be lenient with what people type).
 */
export function normaliseUserCode(typed: string): string | null {
  const candidate = typed.toUpperCase().replace(/[\s-]+/g, '');
  if (candidate.length !== USER_CODE_LENGTH) return null;
  for (const char of candidate) if (!USER_CODE_ALPHABET.includes(char)) return null;
  return candidate;
}

/**
 * The device_code is stored only as this hash, so a leaked dump or MONITOR yields no pollable code:
 * the routing tag, then SHA-256 cut to 168 bits (28 base64url characters). 168 bits leave no chance of
 * two grants colliding (the device_code's own 256 bits are what resists guessing), and the shorter key
 * name keeps a pending grant small in Redis (README, "Redis keys": 28 characters keep the user-code
 * index's value in jemalloc's 48-byte class).
 */
export function hashDeviceCode(deviceCode: string): string {
  const full = hashOpaqueToken(deviceCode);
  return full.slice(0, full.length - (SHA256_BASE64URL_LENGTH - DEVICE_CODE_DIGEST_LENGTH));
}

const SHA256_BASE64URL_LENGTH = 43;
const DEVICE_CODE_DIGEST_LENGTH = 28;
