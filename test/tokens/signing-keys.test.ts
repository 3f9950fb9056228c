import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, compactVerify, CompactSign, importJWK } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import {
  DATA_DIR_KEYS_FILE,
  generateSigningKeyJwk,
  loadSigningKeys,
  type PrivateSigningJwk,
  type SigningKeys,
} from '../../src/tokens/signing-keys.js';

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'devicegate-keys-'));
  tempDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const modeOf = (path: string) => statSync(path).mode & 0o777;
const PUBLIC_MEMBERS = ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'];

function writeJwks(content: unknown): string {
  const path = join(tempDir(), 'keys.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 });
  return path;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const thrown = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(thrown).toBeInstanceOf(ConfigError);
  return thrown as Error;
}

/** Signs bytes with the set's signing key and checks them against one published key. */
async function signsAs(keys: SigningKeys, publishedIndex: number): Promise<boolean> {
  const jws = await new CompactSign(new TextEncoder().encode('probe'))
    .setProtectedHeader({ alg: 'ES256' })
    .sign(keys.signing.privateKey);
  const published = keys.publicJwks.keys[publishedIndex];
  if (!published) return false;
  return compactVerify(jws, await importJWK({ ...published }, 'ES256')).then(
    () => true,
    () => false,
  );
}

describe('generateSigningKeyJwk', () => {
  it('makes a private ES256 JWK whose kid is its RFC 7638 thumbprint', async () => {
    const jwk = await generateSigningKeyJwk();
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwk.d).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(jwk.kid).toBe(await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }));
    expect((await generateSigningKeyJwk()).kid).not.toBe(jwk.kid);
  });
});

describe('loadSigningKeys without jwks_path (data directory)', () => {
  it('generates a key on first start: directory 0700, file 0600, kid = thumbprint', async () => {
    const dataDir = join(tempDir(), 'data', 'nested');
    const keys = await loadSigningKeys({ dataDir });

    const file = join(dataDir, DATA_DIR_KEYS_FILE);
    expect(modeOf(dataDir)).toBe(0o700);
    expect(modeOf(file)).toBe(0o600);
    expect(readdirSync(dataDir)).toEqual([DATA_DIR_KEYS_FILE]); // no temp file left behind

    const stored = JSON.parse(readFileSync(file, 'utf8')) as { keys: PrivateSigningJwk[] };
    expect(stored.keys).toHaveLength(1);
    const [jwk] = stored.keys as [PrivateSigningJwk];
    expect(jwk.d).toBeTypeOf('string');
    expect(jwk.kid).toBe(await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }));

    expect(keys.signing).toMatchObject({ kid: jwk.kid, alg: 'ES256' });
    expect(keys.publicJwks.keys).toEqual([
      { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: jwk.kid, alg: 'ES256', use: 'sig' },
    ]);
    expect(await signsAs(keys, 0)).toBe(true);
  });

  it('loads the same key on the next start, so a restart keeps issued tokens valid', async () => {
    const dataDir = tempDir();
    const first = await loadSigningKeys({ dataDir });
    const fileBefore = readFileSync(join(dataDir, DATA_DIR_KEYS_FILE), 'utf8');

    const second = await loadSigningKeys({ dataDir });
    expect(second.signing.kid).toBe(first.signing.kid);
    expect(second.publicJwks).toEqual(first.publicJwks);
    expect(readFileSync(join(dataDir, DATA_DIR_KEYS_FILE), 'utf8')).toBe(fileBefore);
    expect(await signsAs(second, 0)).toBe(true);
  });

  it('ends with one key set when two processes start at once on an empty directory', async () => {
    const dataDir = tempDir();
    const results = await Promise.all([1, 2, 3, 4].map(() => loadSigningKeys({ dataDir })));
    expect(new Set(results.map((keys) => keys.signing.kid)).size).toBe(1);
    expect(readdirSync(dataDir)).toEqual([DATA_DIR_KEYS_FILE]);
  });

  it('tightens a key file that others can read to 0600 and leaves a read-only-for-others directory alone', async () => {
    const dataDir = tempDir();
    const { signing } = await loadSigningKeys({ dataDir });
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, DATA_DIR_KEYS_FILE), 0o644);

    expect((await loadSigningKeys({ dataDir })).signing.kid).toBe(signing.kid);
    expect(modeOf(join(dataDir, DATA_DIR_KEYS_FILE))).toBe(0o600);
    expect(modeOf(dataDir)).toBe(0o755);
  });

  it('refuses a directory that group or others can write to', async () => {
    const dataDir = join(tempDir(), 'shared');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o777);
    const { message } = await rejection(loadSigningKeys({ dataDir }));
    expect(message).toBe(
      `DEVICEGATE_DATA_DIR ${dataDir}: writable by group or others (mode 777), who could replace the keys kept there; ` +
        'use a private directory (chmod 700)',
    );
    expect(existsSync(join(dataDir, DATA_DIR_KEYS_FILE))).toBe(false);
  });

  it('refuses a corrupt key file instead of replacing it (that would invalidate every token)', async () => {
    const dataDir = tempDir();
    chmodSync(dataDir, 0o700);
    const file = join(dataDir, DATA_DIR_KEYS_FILE);
    writeFileSync(file, '{"keys":[', { mode: 0o600 });
    expect((await rejection(loadSigningKeys({ dataDir }))).message).toBe(`signing keys ${file}: not valid JSON`);
    expect(readFileSync(file, 'utf8')).toBe('{"keys":[');
  });
});

describe('loadSigningKeys with jwks_path', () => {
  let newest: PrivateSigningJwk;
  let older: PrivateSigningJwk;
  beforeAll(async () => {
    newest = await generateSigningKeyJwk();
    older = await generateSigningKeyJwk();
  });

  it('signs with the first key and publishes all of them, in order', async () => {
    const dataDir = join(tempDir(), 'unused');
    const { kid: _kid, ...olderWithoutKid } = older;
    const path = writeJwks({ keys: [{ ...newest, kid: 'k-2026-02' }, olderWithoutKid] });

    const keys = await loadSigningKeys({ jwksPath: path, dataDir });
    expect(keys.signing.kid).toBe('k-2026-02');
    expect(keys.publicJwks.keys.map((key) => key.kid)).toEqual(['k-2026-02', older.kid]); // older: thumbprint
    expect(await signsAs(keys, 0)).toBe(true);
    expect(await signsAs(keys, 1)).toBe(false);
    expect(existsSync(dataDir)).toBe(false); // the data directory is not touched
  });

  it('publishes only public members, and serialising the key set never shows private material', async () => {
    const keys = await loadSigningKeys({ jwksPath: writeJwks({ keys: [newest, older] }), dataDir: tempDir() });
    for (const key of keys.publicJwks.keys) {
      expect(Object.keys(key).sort()).toEqual(PUBLIC_MEMBERS);
      expect(key).not.toHaveProperty('d');
    }
    const serialised = [JSON.stringify(keys), JSON.stringify(keys.signing), JSON.stringify({ keys })];
    for (const text of serialised) {
      expect(text).not.toContain('"d"');
      expect(text).not.toContain(newest.d);
      expect(text).not.toContain(older.d);
    }
    expect(JSON.parse(JSON.stringify(keys))).toEqual(keys.publicJwks);
    expect(keys.signing.privateKey.extractable).toBe(false);
  });

  it('accepts keys with and without alg/use/kid as long as they are ES256 signing keys', async () => {
    const bare = { kty: 'EC', crv: 'P-256', x: newest.x, y: newest.y, d: newest.d };
    const keys = await loadSigningKeys({ jwksPath: writeJwks({ keys: [bare] }), dataDir: tempDir() });
    expect(keys.signing.kid).toBe(newest.kid);
    expect(keys.publicJwks.keys[0]).toMatchObject({ alg: 'ES256', use: 'sig' });
  });

  const cases: [string, () => unknown, string | (() => string)][] = [
    ['not JSON', () => '{"keys":[', 'not valid JSON'],
    ['a JSON array', () => [], 'expected a JSON object {"keys":[...]}'],
    ['no keys member', () => ({}), 'expected a JSON object {"keys":[...]}'],
    ['an empty key list', () => ({ keys: [] }), 'no keys'],
    ['a non-object key', () => ({ keys: [newest, 'abc'] }), 'keys[1]: not a JWK object'],
    [
      'an RSA key',
      () => ({ keys: [newest, { kty: 'RSA', n: 'AQAB', e: 'AQAB', d: 'AQAB' }] }),
      'keys[1]: not an EC P-256 private key (kty is "RSA")',
    ],
    ['a P-384 key', () => ({ keys: [newest, { ...older, crv: 'P-384' }] }), 'keys[1]: not an EC P-256 private key (crv is "P-384")'],
    ['no coordinates', () => ({ keys: [{ kty: 'EC', crv: 'P-256', d: newest.d }] }), 'keys[0]: not an EC P-256 private key (x and y are required)'],
    [
      'a public key',
      () => ({ keys: [newest, { ...older, d: undefined }] }),
      'keys[1]: not an EC P-256 private key (no "d": a public key cannot sign)',
    ],
    [
      "another key's d",
      () => ({ keys: [{ ...newest, d: older.d }] }),
      'keys[0]: not an EC P-256 private key (malformed coordinates, or "d" does not match x and y)',
    ],
    ['alg RS256', () => ({ keys: [newest, { ...older, alg: 'RS256' }] }), 'keys[1]: alg is "RS256", expected "ES256"'],
    ['use enc', () => ({ keys: [newest, { ...older, use: 'enc' }] }), 'keys[1]: use is "enc", expected "sig"'],
    ['an empty kid', () => ({ keys: [newest, { ...older, kid: '' }] }), 'keys[1]: kid must be a non-empty string'],
    ['a numeric kid', () => ({ keys: [newest, { ...older, kid: 7 }] }), 'keys[1]: kid must be a non-empty string'],
    [
      'a duplicate kid',
      () => ({ keys: [{ ...newest, kid: 'a' }, older, { ...older, kid: 'a' }] }),
      'keys[2]: duplicate kid "a" (also keys[0])',
    ],
    [
      'the same key twice (same thumbprint)',
      () => {
        const { kid: _kid, ...noKid } = older;
        return { keys: [newest, older, noKid] };
      },
      () => `keys[2]: duplicate kid "${older.kid}" (also keys[1])`,
    ],
  ];

  it.each(cases)('refuses %s, naming the file and the problem', async (_name, content, problem) => {
    const path = writeJwks(content());
    const { message } = await rejection(loadSigningKeys({ jwksPath: path, dataDir: tempDir() }));
    expect(message).toBe(`jwks_path ${path}: ${typeof problem === 'string' ? problem : problem()}`);
    expect(message).not.toContain(newest.d);
    expect(message).not.toContain(older.d);
  });

  it('keeps key material out of the message when the JSON is broken next to it', async () => {
    const path = writeJwks(`x${JSON.stringify({ keys: [newest] })}`);
    const { message } = await rejection(loadSigningKeys({ jwksPath: path, dataDir: tempDir() }));
    expect(message).toBe(`jwks_path ${path}: not valid JSON`);
  });

  it('names a file it cannot read', async () => {
    const path = join(tempDir(), 'missing.json');
    const { message } = await rejection(loadSigningKeys({ jwksPath: path, dataDir: tempDir() }));
    expect(message).toBe(`jwks_path ${path}: cannot read (ENOENT)`);
  });
});
