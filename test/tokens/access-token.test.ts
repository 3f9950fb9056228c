import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64url, createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT, UnsecuredJWT } from 'jose';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { AccessTokenIssuer } from '../../src/tokens/access-token.js';
import {
  generateSigningKeyJwk,
  loadSigningKeys,
  type PrivateSigningJwk,
  type SigningKeys,
  signingKeysFromJwks,
} from '../../src/tokens/signing-keys.js';

const ISSUER = 'https://auth.example.com';
const MCP = 'https://mcp.example.com/';
const TTL = 600;

const claimsFor = { subject: 'alice', clientId: 'demo-cli', scope: ['openid', 'mcp:tools'], audience: MCP } as const;

let previousJwk: PrivateSigningJwk;
let currentJwk: PrivateSigningJwk;
let strangerJwk: PrivateSigningJwk;
let keys: SigningKeys;
beforeAll(async () => {
  [previousJwk, currentJwk, strangerJwk] = await Promise.all([1, 2, 3].map(() => generateSigningKeyJwk())) as [
    PrivateSigningJwk,
    PrivateSigningJwk,
    PrivateSigningJwk,
  ];
  keys = await keySet(currentJwk);
});

let clock: ManualClock;
let issuer: AccessTokenIssuer;
beforeEach(() => {
  clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  issuer = new AccessTokenIssuer(keys, { issuer: ISSUER, ttlSeconds: TTL, clock });
});

const keySet = (...jwks: PrivateSigningJwk[]) => signingKeysFromJwks({ keys: jwks }, 'test keys');
const issuerWith = (signingKeys: SigningKeys, name = ISSUER) =>
  new AccessTokenIssuer(signingKeys, { issuer: name, ttlSeconds: TTL, clock });

/** Verifies exactly as a resource server would: the JWKS as fetched (JSON), RFC 9068 §4 checks. */
async function verifyAsResourceServer(token: string, published: SigningKeys['publicJwks'], audience = MCP) {
  const jwks = createLocalJWKSet(JSON.parse(JSON.stringify(published)));
  return jwtVerify(token, jwks, {
    issuer: ISSUER,
    audience,
    typ: 'at+jwt',
    algorithms: ['ES256'],
    currentDate: new Date(clock.now()), // the resource server's clock agrees with ours
  });
}

/** Replaces the payload of a signed token, keeping header and signature. */
function withPayload(token: string, changes: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  const payload = { ...decodeJwt(token), ...changes };
  return [header, base64url.encode(JSON.stringify(payload)), signature].join('.');
}

describe('AccessTokenIssuer.issue (RFC 9068)', () => {
  it('issues a JWT that a resource server accepts, with every RFC 9068 §2.2 claim', async () => {
    const issued = await issuer.issue(claimsFor);
    const { payload, protectedHeader } = await verifyAsResourceServer(issued.token, keys.publicJwks);

    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: keys.signing.kid });
    const iat = clock.now() / 1000;
    expect(payload).toEqual({
      iss: ISSUER,
      sub: 'alice',
      aud: MCP,
      client_id: 'demo-cli',
      scope: 'openid mcp:tools',
      iat,
      exp: iat + TTL,
      jti: issued.jti,
    });
    expect(issued.jti).toMatch(/^[A-Za-z0-9_-]{22,}$/); // at least 16 random bytes
    expect(issued.expiresIn).toBe(TTL);
    expect(issued.expiresAt).toBe((iat + TTL) * 1000);
  });

  it('puts several audiences in an array, once each, and omits an empty scope', async () => {
    const other = 'https://api.example.com/';
    const { token } = await issuer.issue({ ...claimsFor, scope: [], audience: [MCP, other, MCP] });
    const { payload } = await verifyAsResourceServer(token, keys.publicJwks, other);
    expect(payload.aud).toEqual([MCP, other]);
    expect(payload).not.toHaveProperty('scope');
    // A one-element array is still a plain string (RFC 7519 §4.1.3).
    expect(decodeJwt((await issuer.issue({ ...claimsFor, audience: [MCP] })).token).aud).toBe(MCP);
  });

  it('takes time from the clock, in whole seconds', async () => {
    clock.set(Date.UTC(2030, 5, 1) + 999);
    const issued = await issuer.issue(claimsFor);
    const { iat, exp } = decodeJwt(issued.token);
    expect(iat).toBe(Date.UTC(2030, 5, 1) / 1000);
    expect(exp).toBe(iat! + TTL);
    expect(issued.expiresAt).toBe(exp! * 1000);
  });

  it('gives every token its own jti', async () => {
    const jtis = await Promise.all(Array.from({ length: 200 }, () => issuer.issue(claimsFor).then((t) => t.jti)));
    expect(new Set(jtis).size).toBe(200);
  });

  it('refuses a token without audience and a nonsensical lifetime', async () => {
    await expect(issuer.issue({ ...claimsFor, audience: [] })).rejects.toThrow('at least one audience');
    for (const ttlSeconds of [0, -1, 1.5, Number.NaN]) {
      expect(() => new AccessTokenIssuer(keys, { issuer: ISSUER, ttlSeconds, clock })).toThrow(RangeError);
    }
  });
});

describe('AccessTokenIssuer.verify', () => {
  it('returns the claims of a valid token, until the second it expires', async () => {
    const issued = await issuer.issue(claimsFor);
    const claims = await issuer.verify(issued.token);
    expect(claims).toEqual(decodeJwt(issued.token));

    clock.advance(TTL * 1000 - 1000);
    expect(await issuer.verify(issued.token)).not.toBeNull();
    clock.advance(1000); // now = exp: expired (RFC 7519 §4.1.4: "on or after")
    expect(await issuer.verify(issued.token)).toBeNull();
    clock.advance(3_600_000);
    expect(await issuer.verify(issued.token)).toBeNull();
  });

  it('refuses a token whose payload or signature was tampered with', async () => {
    const { token } = await issuer.issue(claimsFor);
    expect(await issuer.verify(withPayload(token, { sub: 'mallory' }))).toBeNull();
    expect(await issuer.verify(withPayload(token, { exp: decodeJwt(token).exp! + 86_400 }))).toBeNull();
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    expect(await issuer.verify([header, payload, flipped].join('.'))).toBeNull();
    expect(await issuer.verify(`${header}.${payload}.`)).toBeNull();
  });

  it('refuses a token signed by a key it does not publish, even under a published kid', async () => {
    const stranger = await issuerWith(await keySet(strangerJwk)).issue(claimsFor);
    expect(await issuer.verify(stranger.token)).toBeNull();
    const impostorKeys = await keySet({ ...strangerJwk, kid: keys.signing.kid });
    const impostor = await issuerWith(impostorKeys).issue(claimsFor);
    expect(decodeProtectedHeader(impostor.token).kid).toBe(keys.signing.kid);
    expect(await issuer.verify(impostor.token)).toBeNull();
  });

  it('refuses a JWT of another type signed with the same key (RFC 9068 §4: typ must be at+jwt)', async () => {
    const claims = decodeJwt((await issuer.issue(claimsFor)).token);
    for (const typ of ['JWT', 'id_token+jwt', undefined]) {
      const header = { alg: 'ES256', kid: keys.signing.kid, ...(typ ? { typ } : {}) };
      const token = await new SignJWT(claims).setProtectedHeader(header).sign(keys.signing.privateKey);
      expect(await issuer.verify(token)).toBeNull();
    }
    // The media-type spelling of the same type is the same type (RFC 7515 §4.1.9).
    const spelledOut = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'application/at+jwt', kid: keys.signing.kid })
      .sign(keys.signing.privateKey);
    expect(await issuer.verify(spelledOut)).not.toBeNull();
  });

  it("refuses another issuer's token and one missing a required claim", async () => {
    const foreign = await issuerWith(keys, 'https://elsewhere.example').issue(claimsFor);
    expect(await issuer.verify(foreign.token)).toBeNull();

    const { client_id: _clientId, ...withoutClientId } = decodeJwt((await issuer.issue(claimsFor)).token);
    const token = await new SignJWT(withoutClientId)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: keys.signing.kid })
      .sign(keys.signing.privateKey);
    expect(await issuer.verify(token)).toBeNull();
  });

  it('refuses unsigned and HMAC tokens (no algorithm confusion)', async () => {
    const claims = decodeJwt((await issuer.issue(claimsFor)).token);
    const unsecured = new UnsecuredJWT(claims).encode();
    expect(await issuer.verify(unsecured)).toBeNull();
    const published = keys.publicJwks.keys[0]!;
    const hmac = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: published.kid })
      .sign(new TextEncoder().encode(JSON.stringify(published)));
    expect(await issuer.verify(hmac)).toBeNull();
  });

  it('returns null for garbage, never throws', async () => {
    const garbage = [
      '',
      'not a token',
      'a.b.c',
      '...',
      'eyJ.eyJ.',
      `${base64url.encode('{"alg":"ES256"}')}.${base64url.encode('[]')}.AAAA`,
      `${base64url.encode('null')}.${base64url.encode('{}')}.AAAA`,
      randomBytes(600).toString('base64url'),
      Array.from({ length: 3 }, () => randomBytes(64).toString('base64url')).join('.'),
      'x'.repeat(100_000),
    ];
    for (const input of garbage) expect(await issuer.verify(input)).toBeNull();
    expect(await issuer.verify(42 as unknown as string)).toBeNull();
    expect(await issuer.verify(undefined as unknown as string)).toBeNull();
  });
});

describe('key rotation and restarts', () => {
  it('keeps verifying tokens of an older key while it is still published', async () => {
    const beforeRotation = await issuerWith(await keySet(previousJwk)).issue(claimsFor);

    const rotatedKeys = await keySet(currentJwk, previousJwk); // newest first
    const rotated = issuerWith(rotatedKeys);
    const afterRotation = await rotated.issue(claimsFor);
    expect(decodeProtectedHeader(afterRotation.token).kid).toBe(currentJwk.kid);

    expect(await rotated.verify(beforeRotation.token)).not.toBeNull();
    expect(await rotated.verify(afterRotation.token)).not.toBeNull();
    await expect(verifyAsResourceServer(beforeRotation.token, rotatedKeys.publicJwks)).resolves.toBeTruthy();
    await expect(verifyAsResourceServer(afterRotation.token, rotatedKeys.publicJwks)).resolves.toBeTruthy();

    // Once the old key is retired, its tokens are gone too.
    expect(await issuerWith(await keySet(currentJwk)).verify(beforeRotation.token)).toBeNull();
  });

  it('keeps verifying tokens across a restart on the generated data-directory key', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'devicegate-tokens-'));
    try {
      const issued = await issuerWith(await loadSigningKeys({ dataDir })).issue(claimsFor);
      const afterRestart = issuerWith(await loadSigningKeys({ dataDir }));
      expect(await afterRestart.verify(issued.token)).not.toBeNull();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
