import { readFile } from 'node:fs/promises';
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from 'jose';
import { ConfigError } from '../config.js';
import { ensurePrivateFile, errorCode } from '../data-dir.js';

/** The one algorithm access tokens are signed with (RFC 7518 §3.4: ECDSA P-256 SHA-256). */
export const SIGNING_ALG = 'ES256';

/** File name of the generated key set inside the data directory. */
export const DATA_DIR_KEYS_FILE = 'signing-keys.json';

/** A published verification key: public members only (RFC 7518 §6.2.1), never `d`. */
export interface PublicSigningJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly kid: string;
  readonly alg: typeof SIGNING_ALG;
  readonly use: 'sig';
}

/** A signing key as stored on disk (RFC 7518 §6.2.2: the public members plus `d`). */
export interface PrivateSigningJwk extends PublicSigningJwk {
  readonly d: string;
}

export interface SigningKeys {
  /** The key that signs new tokens: the first of the set. */
  readonly signing: { readonly kid: string; readonly alg: typeof SIGNING_ALG; readonly privateKey: CryptoKey };
  /**
   * Every key's public half, the signing key first: what the JWKS endpoint serves and what tokens are
   * verified against. Older keys stay here after a rotation until the tokens they signed have expired.
   */
  readonly publicJwks: { readonly keys: readonly PublicSigningJwk[] };
}

/**
 * The loaded key set. `toJSON` is a guard: logging or serialising the object shows the public JWKS
 * only. (The private key is a non-extractable CryptoKey, which serialises to `{}` anyway.)
 */
class LoadedSigningKeys implements SigningKeys {
  constructor(
    readonly signing: SigningKeys['signing'],
    readonly publicJwks: SigningKeys['publicJwks'],
  ) {
    Object.freeze(this);
  }

  toJSON(): SigningKeys['publicJwks'] {
    return this.publicJwks;
  }
}

/**
 * The access-token signing keys.
 *
 * - `jwksPath` set: a JSON file `{"keys":[…]}` of private EC P-256 JWKs that the operator manages.
 *   The first key signs; all are published. Rotation = prepend a new key and keep the old ones until
 *   every token they signed has expired.
 * - unset: `${dataDir}/signing-keys.json` in the same format, generated on first start and loaded on
 *   every later one, so a restart does not invalidate issued tokens.
 *
 * A bad file stops start-up with a ConfigError naming the file and the problem.
 */
export async function loadSigningKeys(options: { jwksPath?: string | undefined; dataDir: string }): Promise<SigningKeys> {
  if (options.jwksPath !== undefined) return readKeyFile(options.jwksPath, `jwks_path ${options.jwksPath}`);
  return loadOrCreateDataDirKeys(options.dataDir);
}

/** A fresh private signing JWK whose `kid` is its RFC 7638 thumbprint (for a future `keys rotate`). */
export async function generateSigningKeyJwk(): Promise<PrivateSigningJwk> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const { x, y, d } = await exportJWK(privateKey);
  if (x === undefined || y === undefined || d === undefined) throw new Error('exported EC key lacks x, y or d');
  const kid = await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x, y }, 'sha256');
  return { kty: 'EC', crv: 'P-256', x, y, d, kid, alg: SIGNING_ALG, use: 'sig' };
}

/**
 * Validates a parsed `{"keys":[…]}` document and imports its keys. Errors read
 * `${source}: keys[1]: not an EC P-256 private key (no "d": a public key cannot sign)`.
 */
export async function signingKeysFromJwks(jwks: unknown, source: string): Promise<SigningKeys> {
  const fail = (problem: string) => new ConfigError(`${source}: ${problem}`);
  if (!isRecord(jwks) || !Array.isArray(jwks.keys)) throw fail('expected a JSON object {"keys":[...]}');
  if (jwks.keys.length === 0) throw fail('no keys');

  const loaded: { publicJwk: PublicSigningJwk; privateKey: CryptoKey }[] = [];
  const indexByKid = new Map<string, number>();
  for (const [index, member] of (jwks.keys as unknown[]).entries()) {
    const key = await importSigningJwk(member, `keys[${index}]`, fail);
    const { kid } = key.publicJwk;
    const earlier = indexByKid.get(kid);
    // RFC 7517 §4.5: kids within a set should differ; a verifier picks the key by kid alone.
    if (earlier !== undefined) throw fail(`keys[${index}]: duplicate kid ${JSON.stringify(kid)} (also keys[${earlier}])`);
    indexByKid.set(kid, index);
    loaded.push(key);
  }

  const first = loaded[0];
  if (first === undefined) throw fail('no keys');
  return new LoadedSigningKeys(
    Object.freeze({ kid: first.publicJwk.kid, alg: SIGNING_ALG, privateKey: first.privateKey }),
    Object.freeze({ keys: Object.freeze(loaded.map((key) => key.publicJwk)) }),
  );
}

async function importSigningJwk(
  member: unknown,
  at: string,
  fail: (problem: string) => Error,
): Promise<{ publicJwk: PublicSigningJwk; privateKey: CryptoKey }> {
  if (!isRecord(member)) throw fail(`${at}: not a JWK object`);
  const { kty, crv, x, y, d, kid, alg, use } = member;
  const notPrivateP256 = (why: string) => fail(`${at}: not an EC P-256 private key (${why})`);
  if (kty !== 'EC') throw notPrivateP256(`kty is ${describeValue(kty)}`);
  if (crv !== 'P-256') throw notPrivateP256(`crv is ${describeValue(crv)}`);
  if (typeof x !== 'string' || typeof y !== 'string') throw notPrivateP256('x and y are required');
  if (typeof d !== 'string') throw notPrivateP256('no "d": a public key cannot sign');
  if (alg !== undefined && alg !== SIGNING_ALG) throw fail(`${at}: alg is ${describeValue(alg)}, expected "ES256"`);
  if (use !== undefined && use !== 'sig') throw fail(`${at}: use is ${describeValue(use)}, expected "sig"`);
  if (kid !== undefined && (typeof kid !== 'string' || kid === '')) throw fail(`${at}: kid must be a non-empty string`);

  let privateKey: CryptoKey;
  try {
    // Only the key members: key_ops/ext in the file must not change what the imported key may do.
    // Not extractable: once loaded, the private key cannot be exported from the process's CryptoKey.
    // WebCrypto refuses a `d` that does not belong to (x, y), so a mismatched pair never signs tokens
    // that the published key cannot verify.
    privateKey = await importJWK({ kty, crv, x, y, d }, SIGNING_ALG, { extractable: false });
  } catch {
    // The underlying message ("Invalid keyData") adds nothing, and key material must not reach logs.
    throw notPrivateP256('malformed coordinates, or "d" does not match x and y');
  }
  const publicJwk: PublicSigningJwk = Object.freeze({
    kty,
    crv,
    x,
    y,
    // RFC 7638 thumbprint when the file names no kid: stable across restarts and hosts.
    kid: kid ?? (await calculateJwkThumbprint({ kty, crv, x, y }, 'sha256')),
    alg: SIGNING_ALG,
    use: 'sig',
  });
  return { publicJwk, privateKey };
}

async function readKeyFile(path: string, source: string): Promise<SigningKeys> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${source}: cannot read (${errorCode(error)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Not the parser's message: V8 quotes the text around the error, which here is private key material.
    throw new ConfigError(`${source}: not valid JSON`);
  }
  return signingKeysFromJwks(json, source);
}

/** The generated key set in the data directory: created on first start, loaded on every later one. */
async function loadOrCreateDataDirKeys(dataDir: string): Promise<SigningKeys> {
  const path = await ensurePrivateFile(dataDir, DATA_DIR_KEYS_FILE, async () =>
    `${JSON.stringify({ keys: [await generateSigningKeyJwk()] }, null, 2)}\n`,
  );
  // Read back what is on disk, even just after creating it: the key that signs is the key that persists.
  return readKeyFile(path, `signing keys ${path}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : value === undefined ? 'missing' : `a ${typeof value}`;
}
