import { createRemoteJWKSet, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOAuthError, useTestServer } from '../support/oauth.js';
import {
  basic,
  CONFIDENTIAL_SECRET,
  DEVICE_GRANT,
  form,
  type StoreKind,
} from '../support/server.js';

const FORM = 'application/x-www-form-urlencoded';
const MCP = 'https://mcp.example.com/';
const OTHER = 'https://other.example.com/api';
/** The test server's policy (test/support/server.ts): device codes 600 s / 5 s, access tokens 600 s. */
const EXPIRES_IN_MS = 600_000;
const INTERVAL_MS = 5_000;
const ACCESS_TOKEN_TTL = 600;
const REFRESH_TOKEN_TTL_MS = 86_400_000;

type Params = Record<string, string | string[]>;
type Json = Record<string, unknown>;

describe.each<StoreKind>(['memory', 'redis'])('POST /oauth/token (%s store)', (kind) => {
  const server = useTestServer(kind);
  let jwks: ReturnType<typeof createRemoteJWKSet>;
  beforeAll(() => {
    jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
  });

  const post = (path: string, body: string | undefined, headers: Record<string, string> = { 'content-type': FORM }, method = 'POST') =>
    fetch(`${server.url}${path}`, { method, headers, body });
  const token = (params: Params, headers: Record<string, string> = {}) =>
    post('/oauth/token', form(params), { 'content-type': FORM, ...headers });


  /** Asserts an RFC 6749 §5.1 token response with exactly `keys` and returns its body. */
  async function expectTokenResponse(response: Response, keys: readonly string[]): Promise<Json & { access_token: string }> {
    const text = await response.text();
    expect(response.status, text).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('pragma')).toBe('no-cache');
    const body = JSON.parse(text) as Json & { access_token: string };
    expect(Object.keys(body).sort()).toEqual([...keys].sort());
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBe(ACCESS_TOKEN_TTL);
    return body;
  }
  const WITH_REFRESH = ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type'];
  const WITHOUT_REFRESH = ['access_token', 'expires_in', 'scope', 'token_type'];

  /** RFC 8628 §3.1: a device authorization; returns the device_code and the normalised user code. */
  async function authorize(params: Params = { client_id: 'demo-cli' }, headers: Record<string, string> = {}) {
    const response = await post('/oauth/device/authorize', form(params), { 'content-type': FORM, ...headers });
    const body = (await response.json()) as { device_code: string; user_code: string };
    expect(response.status, JSON.stringify(body)).toBe(200);
    return { deviceCode: body.device_code, userCode: body.user_code.replace('-', '') };
  }
  async function approve(userCode: string, subject = 'alice') {
    expect(await server.stores.grants.decide(userCode, { kind: 'approve', subject }, server.clock.now())).toBe('approved');
  }
  async function deny(userCode: string) {
    expect(await server.stores.grants.decide(userCode, { kind: 'deny' }, server.clock.now())).toBe('denied');
  }
  const poll = (deviceCode: string, clientId = 'demo-cli', extra: Params = {}) =>
    token({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId, ...extra });
  const refresh = (refreshToken: string, clientId = 'demo-cli', extra: Params = {}) =>
    token({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, ...extra });
  const storedInterval = async (userCode: string) => (await server.stores.grants.findByUserCode(userCode))?.interval;

  /** Authorize, approve as alice, redeem: the token response of demo-cli (with a refresh token). */
  async function issue(authorizeParams: Params = { client_id: 'demo-cli', scope: 'openid profile' }, tokenParams: Params = {}) {
    const { deviceCode, userCode } = await authorize(authorizeParams);
    await approve(userCode);
    return (await expectTokenResponse(await poll(deviceCode, 'demo-cli', tokenParams), WITH_REFRESH)) as Json & {
      access_token: string;
      refresh_token: string;
    };
  }

  /** Verifies an access token as a resource server would: the published JWKS, issuer, audience, typ. */
  async function verifyAccessToken(accessToken: string, audience: string = server.url): Promise<JWTPayload> {
    const { payload } = await jwtVerify(accessToken, jwks, {
      issuer: server.url,
      audience,
      typ: 'at+jwt',
      algorithms: ['ES256'],
      // Tests move the server's clock forward; judge expiry by it, as the server does.
      currentDate: new Date(server.clock.now()),
    });
    return payload;
  }

  describe('device_code polling (RFC 8628 §3.4–3.5)', () => {
    it('authorization_pending while the person has not decided', async () => {
      const { deviceCode } = await authorize();
      expect(await expectOAuthError(await poll(deviceCode), 400, 'authorization_pending')).toMatch(/not yet/);
      server.clock.advance(INTERVAL_MS);
      await expectOAuthError(await poll(deviceCode), 400, 'authorization_pending');
    });

    it('slow_down when polling sooner than the interval; +5 s for this and all later requests, persisted', async () => {
      const { deviceCode, userCode } = await authorize();
      await expectOAuthError(await poll(deviceCode), 400, 'authorization_pending');
      server.clock.advance(2_000);
      expect(await expectOAuthError(await poll(deviceCode), 400, 'slow_down')).toMatch(/\b10 seconds\b/);
      expect(await storedInterval(userCode)).toBe(10);
      // A client that honours the new interval is never told to slow down again.
      for (let i = 0; i < 20; i++) {
        server.clock.advance(10_000);
        await expectOAuthError(await poll(deviceCode), 400, 'authorization_pending');
      }
      expect(await storedInterval(userCode)).toBe(10);
      // The old interval is too short now.
      server.clock.advance(INTERVAL_MS);
      expect(await expectOAuthError(await poll(deviceCode), 400, 'slow_down')).toMatch(/\b15 seconds\b/);
      expect(await storedInterval(userCode)).toBe(15);
    });

    it('counts the interval from the slow_down answer, which was a request too', async () => {
      const { deviceCode, userCode } = await authorize();
      await expectOAuthError(await poll(deviceCode), 400, 'authorization_pending');
      server.clock.advance(2_000);
      await expectOAuthError(await poll(deviceCode), 400, 'slow_down');
      // 10.5 s after the first poll but only 8.5 s after the slow_down one (interval 10, leeway 1 s).
      server.clock.advance(8_500);
      await expectOAuthError(await poll(deviceCode), 400, 'slow_down');
      expect(await storedInterval(userCode)).toBe(15);
    });

    it('adds 5 s on every early poll', async () => {
      const { deviceCode, userCode } = await authorize();
      await expectOAuthError(await poll(deviceCode), 400, 'authorization_pending');
      for (const interval of [10, 15, 20, 25]) {
        expect(await expectOAuthError(await poll(deviceCode), 400, 'slow_down')).toMatch(new RegExp(`\\b${interval} seconds\\b`));
        expect(await storedInterval(userCode)).toBe(interval);
      }
      server.clock.advance(25_000);
      await expectOAuthError(await poll(deviceCode), 400, 'authorization_pending');
    });

    it('allows a leeway of min(1 s, 20 % of the interval): 4.0 s after is pending, 3.999 s after is slow_down', async () => {
      const { deviceCode, userCode } = await authorize();
      await expectOAuthError(await poll(deviceCode), 400, 'authorization_pending');
      server.clock.advance(4_000);
      await expectOAuthError(await poll(deviceCode), 400, 'authorization_pending');
      server.clock.advance(3_999);
      await expectOAuthError(await poll(deviceCode), 400, 'slow_down');
      expect(await storedInterval(userCode)).toBe(10);
    });

    it('slow_down for an early poll after approval, which does not consume the grant', async () => {
      const { deviceCode, userCode } = await authorize();
      await expectOAuthError(await poll(deviceCode), 400, 'authorization_pending');
      await approve(userCode);
      server.clock.advance(1_000);
      await expectOAuthError(await poll(deviceCode), 400, 'slow_down');
      server.clock.advance(10_000);
      await expectTokenResponse(await poll(deviceCode), WITH_REFRESH);
    });

    it('access_denied after the person denies, on every later poll', async () => {
      const { deviceCode, userCode } = await authorize();
      await expectOAuthError(await poll(deviceCode), 400, 'authorization_pending');
      await deny(userCode);
      server.clock.advance(INTERVAL_MS);
      await expectOAuthError(await poll(deviceCode), 400, 'access_denied');
      server.clock.advance(INTERVAL_MS);
      await expectOAuthError(await poll(deviceCode), 400, 'access_denied');
    });

    it('expired_token from expires_in on (600 s), not before', async () => {
      const { deviceCode } = await authorize();
      server.clock.advance(EXPIRES_IN_MS - 1);
      await expectOAuthError(await poll(deviceCode), 400, 'authorization_pending');
      server.clock.advance(1);
      expect(await expectOAuthError(await poll(deviceCode), 400, 'expired_token')).toMatch(/expired/);
    });

    it('expired_token for an approved grant redeemed too late', async () => {
      const { deviceCode, userCode } = await authorize();
      await approve(userCode);
      server.clock.advance(EXPIRES_IN_MS + 1_000);
      await expectOAuthError(await poll(deviceCode), 400, 'expired_token');
    });

    it('expired_token (not invalid_grant) for a late poll long after expiry, while the tombstone lasts', async () => {
      const { deviceCode } = await authorize();
      server.clock.advance(EXPIRES_IN_MS + 9 * 60_000);
      await expectOAuthError(await poll(deviceCode), 400, 'expired_token');
      server.clock.advance(59_000);
      await expectOAuthError(await poll(deviceCode), 400, 'expired_token');
    });

    it('invalid_grant for an unknown device_code', async () => {
      const description = await expectOAuthError(await poll('A'.repeat(43)), 400, 'invalid_grant');
      expect(description).toMatch(/device_code/);
      await expectOAuthError(await poll('not-a-device-code'), 400, 'invalid_grant');
    });

    it("invalid_grant for another client's device_code, which stays usable by its own client", async () => {
      const { deviceCode, userCode } = await authorize();
      await approve(userCode);
      await expectOAuthError(await poll(deviceCode, 'slow-cli'), 400, 'invalid_grant');
      await expectTokenResponse(await poll(deviceCode), WITH_REFRESH);
    });

    it('invalid_grant for a device_code already redeemed, early or late', async () => {
      const { deviceCode, userCode } = await authorize();
      await approve(userCode);
      await expectTokenResponse(await poll(deviceCode), WITH_REFRESH);
      await expectOAuthError(await poll(deviceCode), 400, 'invalid_grant');
      server.clock.advance(INTERVAL_MS);
      await expectOAuthError(await poll(deviceCode), 400, 'invalid_grant');
    });

    it('unauthorized_client for a client without the device grant', async () => {
      const { deviceCode } = await authorize();
      expect(await expectOAuthError(await poll(deviceCode, 'no-device-grant'), 400, 'unauthorized_client')).toContain(DEVICE_GRANT);
    });

    it('unauthorized_client for an inactive client', async () => {
      const { deviceCode } = await authorize();
      await expectOAuthError(await poll(deviceCode, 'inactive-cli'), 400, 'unauthorized_client');
    });
  });

  describe('success', () => {
    it('answers with an access token, Bearer, expires_in, scope and a refresh token (demo-cli has the refresh grant)', async () => {
      const { deviceCode, userCode } = await authorize({ client_id: 'demo-cli', scope: 'openid profile' });
      await expectOAuthError(await poll(deviceCode), 400, 'authorization_pending');
      await approve(userCode);
      server.clock.advance(INTERVAL_MS);
      const body = await expectTokenResponse(await poll(deviceCode), WITH_REFRESH);
      expect(body.scope).toBe('openid profile');
      // `<family id>.<32 random bytes>`: the family id is the access token's grant_id (README, "Redis keys").
      expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
      expect(body.access_token.split('.')).toHaveLength(3);
    });

    it('grants every registered scope when the device authorization named none', async () => {
      expect((await issue({ client_id: 'demo-cli' })).scope).toBe('openid profile mcp:tools');
    });

    it.each([
      ['a public client', 'slow-cli', { client_id: 'slow-cli' }, {}],
      ['a client_secret_basic client', 'basic-service', {}, { authorization: basic('basic-service', CONFIDENTIAL_SECRET) }],
      ['a client_secret_post client', 'post-service', { client_id: 'post-service', client_secret: CONFIDENTIAL_SECRET }, {}],
    ] as [string, string, Params, Record<string, string>][])(
      'no refresh_token for %s without the refresh_token grant',
      async (_, clientId, params, headers) => {
        const { deviceCode, userCode } = await authorize(params, headers);
        await approve(userCode);
        const response = await token({ grant_type: DEVICE_GRANT, device_code: deviceCode, ...params }, headers);
        const body = await expectTokenResponse(response, WITHOUT_REFRESH);
        expect(body.scope).toBe('openid');
        expect((await verifyAccessToken(body.access_token)).client_id).toBe(clientId);
      },
    );

    it('exactly once over HTTP: of 120 concurrent requests after approval, one gets tokens, the rest invalid_grant', async () => {
      const { deviceCode, userCode } = await authorize();
      await approve(userCode);
      const responses = await Promise.all(Array.from({ length: 120 }, () => poll(deviceCode)));
      const bodies = await Promise.all(
        responses.map(async (response) => ({ status: response.status, body: (await response.json()) as Json })),
      );
      const winners = bodies.filter(({ status }) => status === 200);
      expect(winners).toHaveLength(1);
      expect(Object.keys(winners[0]!.body).sort()).toEqual(WITH_REFRESH);
      const losers = bodies.filter(({ status }) => status !== 200);
      expect(losers).toHaveLength(119);
      for (const loser of losers) expect(loser).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    });
  });

  describe('the access token (RFC 9068)', () => {
    it('is an ES256 at+jwt whose kid is published in the JWKS', async () => {
      const { access_token } = await issue();
      const header = decodeProtectedHeader(access_token);
      expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
      expect(typeof header.kid).toBe('string');
      const published = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
      expect(published.keys.map((key) => key.kid)).toContain(header.kid);
    });

    it('verifies against the remote JWKS with iss, sub, aud, client_id, scope, iat, exp, jti', async () => {
      const issuedAt = Math.floor(server.clock.now() / 1000);
      const first = await issue();
      const payload = await verifyAccessToken(first.access_token);
      expect(Object.keys(payload).sort()).toEqual(['aud', 'client_id', 'exp', 'grant_id', 'iat', 'iss', 'jti', 'scope', 'sub']);
      expect(payload).toMatchObject({ iss: server.url, sub: 'alice', aud: server.url, client_id: 'demo-cli', scope: 'openid profile' });
      expect(payload.iat).toBe(issuedAt);
      expect(payload.exp).toBe(issuedAt + ACCESS_TOKEN_TTL);
      expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{22,}$/);
      const second = await verifyAccessToken((await issue()).access_token);
      expect(second.jti).not.toBe(payload.jti);
    });

    it('is refused by a resource server expecting another audience or another typ', async () => {
      const { access_token } = await issue();
      await expect(verifyAccessToken(access_token, MCP)).rejects.toThrow(/aud/);
      await expect(jwtVerify(access_token, jwks, { issuer: server.url, typ: 'JWT' })).rejects.toThrow(/typ/);
    });
  });

  describe('audience (RFC 8707)', () => {
    it('is the issuer when no resource was requested (no default_audience configured)', async () => {
      const { access_token } = await issue({ client_id: 'demo-cli', scope: 'openid' });
      expect((await verifyAccessToken(access_token, server.url)).aud).toBe(server.url);
    });

    it('is the one resource requested at device authorization, as a string', async () => {
      const { access_token } = await issue({ client_id: 'demo-cli', scope: 'openid', resource: MCP });
      expect((await verifyAccessToken(access_token, MCP)).aud).toBe(MCP);
    });

    it('is every resource requested at device authorization, as an array', async () => {
      const { access_token } = await issue({ client_id: 'demo-cli', scope: 'openid', resource: [MCP, OTHER] });
      expect((await verifyAccessToken(access_token, MCP)).aud).toEqual([MCP, OTHER]);
      expect((await verifyAccessToken(access_token, OTHER)).aud).toEqual([MCP, OTHER]);
    });

    it('narrows to the granted resource named at the token request', async () => {
      const { access_token } = await issue({ client_id: 'demo-cli', scope: 'openid', resource: [MCP, OTHER] }, { resource: OTHER });
      expect((await verifyAccessToken(access_token, OTHER)).aud).toBe(OTHER);
    });

    it('may name a registered resource at the token request when none was named at authorization', async () => {
      const { access_token } = await issue({ client_id: 'demo-cli', scope: 'openid' }, { resource: MCP });
      expect((await verifyAccessToken(access_token, MCP)).aud).toBe(MCP);
    });

    it.each([
      ['registered but not granted', OTHER],
      ['never registered', 'https://evil.example.com/'],
    ])('invalid_target for a resource at the token request outside the granted ones (%s)', async (_, resource) => {
      const { deviceCode, userCode } = await authorize({ client_id: 'demo-cli', scope: 'openid', resource: MCP });
      await approve(userCode);
      expect(await expectOAuthError(await poll(deviceCode, 'demo-cli', { resource }), 400, 'invalid_target')).toContain(resource);
    });

    it('refuses an unregistered resource before polling, so the approved grant is not spent', async () => {
      const { deviceCode, userCode } = await authorize({ client_id: 'demo-cli', scope: 'openid', resource: MCP });
      await approve(userCode);
      await expectOAuthError(await poll(deviceCode, 'demo-cli', { resource: 'https://evil.example.com/' }), 400, 'invalid_target');
      expect((await poll(deviceCode, 'demo-cli')).status).toBe(200);
    });
  });

  describe('refresh_token grant (RFC 6749 §6, rotation)', () => {
    it('returns a new access token and a new refresh token', async () => {
      const first = await issue();
      server.clock.advance(60_000);
      const second = await expectTokenResponse(await refresh(first.refresh_token), WITH_REFRESH);
      expect(second.refresh_token).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
      // The successor keeps the family's routing tag: one Redis Cluster slot per family.
      expect(String(second.refresh_token).split('.')[0]).toBe(String(first.refresh_token).split('.')[0]);
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expect(second.access_token).not.toBe(first.access_token);
      expect(second.scope).toBe('openid profile');
      const payload = await verifyAccessToken(second.access_token);
      expect(payload).toMatchObject({ sub: 'alice', client_id: 'demo-cli', scope: 'openid profile', aud: server.url });
      expect(payload.iat).toBe(Math.floor(server.clock.now() / 1000));
    });

    it('keeps the granted audiences, and narrows them like the device_code grant', async () => {
      const first = await issue({ client_id: 'demo-cli', scope: 'openid', resource: [MCP, OTHER] });
      const all = await expectTokenResponse(await refresh(first.refresh_token), WITH_REFRESH);
      expect((await verifyAccessToken(all.access_token, MCP)).aud).toEqual([MCP, OTHER]);
      const narrowed = await expectTokenResponse(await refresh(all.refresh_token as string, 'demo-cli', { resource: MCP }), WITH_REFRESH);
      expect((await verifyAccessToken(narrowed.access_token, MCP)).aud).toBe(MCP);
    });

    it('invalid_target for a resource outside the grant, without spending the refresh token', async () => {
      const first = await issue({ client_id: 'demo-cli', scope: 'openid', resource: MCP });
      await expectOAuthError(await refresh(first.refresh_token, 'demo-cli', { resource: OTHER }), 400, 'invalid_target');
      await expectTokenResponse(await refresh(first.refresh_token), WITH_REFRESH);
    });

    it('invalid_grant for a rotated-away refresh token, which revokes the family: the newest is invalid_grant too', async () => {
      const first = await issue();
      const second = await expectTokenResponse(await refresh(first.refresh_token), WITH_REFRESH);
      const replay = await expectOAuthError(await refresh(first.refresh_token), 400, 'invalid_grant');
      expect(replay).toMatch(/refresh_token/);
      await expectOAuthError(await refresh(second.refresh_token as string), 400, 'invalid_grant');
      await expectOAuthError(await refresh(first.refresh_token), 400, 'invalid_grant');
    });

    it('a replay of an old token revokes tokens rotated after it as well', async () => {
      const first = await issue();
      const second = await expectTokenResponse(await refresh(first.refresh_token), WITH_REFRESH);
      const third = await expectTokenResponse(await refresh(second.refresh_token as string), WITH_REFRESH);
      await expectOAuthError(await refresh(first.refresh_token), 400, 'invalid_grant');
      await expectOAuthError(await refresh(third.refresh_token as string), 400, 'invalid_grant');
    });

    it('does not touch other families of the same client and subject', async () => {
      const victim = await issue();
      const bystander = await issue();
      await expectTokenResponse(await refresh(victim.refresh_token), WITH_REFRESH);
      await expectOAuthError(await refresh(victim.refresh_token), 400, 'invalid_grant');
      await expectTokenResponse(await refresh(bystander.refresh_token), WITH_REFRESH);
    });

    it('narrows the scope of the new access token; the refresh token keeps the granted scope', async () => {
      const first = await issue({ client_id: 'demo-cli', scope: 'openid profile' });
      const narrowed = await expectTokenResponse(await refresh(first.refresh_token, 'demo-cli', { scope: 'openid' }), WITH_REFRESH);
      expect(narrowed.scope).toBe('openid');
      expect((await verifyAccessToken(narrowed.access_token)).scope).toBe('openid');
      const again = await expectTokenResponse(await refresh(narrowed.refresh_token as string), WITH_REFRESH);
      expect(again.scope).toBe('openid profile');
      expect((await verifyAccessToken(again.access_token)).scope).toBe('openid profile');
    });

    it.each(['admin', 'openid admin', 'mcp:tools'])(
      'invalid_scope when widening to %j, without spending the refresh token',
      async (scope) => {
        const first = await issue({ client_id: 'demo-cli', scope: 'openid profile' });
        await expectOAuthError(await refresh(first.refresh_token, 'demo-cli', { scope }), 400, 'invalid_scope');
        const next = await expectTokenResponse(await refresh(first.refresh_token), WITH_REFRESH);
        expect(next.scope).toBe('openid profile');
      },
    );

    it("invalid_grant for another client's refresh token, which stays usable by its own client", async () => {
      const first = await issue();
      // no-device-grant is the other client registered for the refresh_token grant.
      await expectOAuthError(await refresh(first.refresh_token, 'no-device-grant'), 400, 'invalid_grant');
      await expectTokenResponse(await refresh(first.refresh_token), WITH_REFRESH);
    });

    it('exactly once: of 20 concurrent refreshes with one token, one gets tokens, the rest invalid_grant', async () => {
      const first = await issue();
      const responses = await Promise.all(Array.from({ length: 20 }, () => refresh(first.refresh_token)));
      const statuses = await Promise.all(
        responses.map(async (response) => `${response.status} ${((await response.json()) as Json).error ?? ''}`),
      );
      expect(statuses.filter((status) => status.startsWith('200'))).toHaveLength(1);
      expect(statuses.filter((status) => status === '400 invalid_grant')).toHaveLength(19);
    });

    it('invalid_grant for an unknown refresh token', async () => {
      await expectOAuthError(await refresh('B'.repeat(43)), 400, 'invalid_grant');
    });

    it('invalid_grant once the refresh token has expired (refresh_token_ttl)', async () => {
      const first = await issue();
      server.clock.advance(REFRESH_TOKEN_TTL_MS);
      await expectOAuthError(await refresh(first.refresh_token), 400, 'invalid_grant');
    });

    it('invalid_request without refresh_token', async () => {
      const response = await token({ grant_type: 'refresh_token', client_id: 'demo-cli' });
      expect(await expectOAuthError(response, 400, 'invalid_request')).toMatch(/refresh_token is required/);
    });

    it('unauthorized_client for a client without the refresh_token grant', async () => {
      const first = await issue();
      expect(await expectOAuthError(await refresh(first.refresh_token, 'slow-cli'), 400, 'unauthorized_client')).toContain(
        'refresh_token',
      );
      await expectTokenResponse(await refresh(first.refresh_token), WITH_REFRESH);
    });
  });

  describe('malformed requests and client errors', () => {
    it.each(['password', 'client_credentials'])('unsupported_grant_type for grant_type=%s', async (grantType) => {
      const response = await token({ grant_type: grantType, client_id: 'demo-cli', code: 'x', username: 'u', password: 'p' });
      expect(await expectOAuthError(response, 400, 'unsupported_grant_type')).toContain(grantType);
    });

    it('unauthorized_client for grant_type=authorization_code from a device-only client (RFC 6749 §5.2)', async () => {
      const response = await token({ grant_type: 'authorization_code', client_id: 'demo-cli', code: 'x', redirect_uri: 'http://127.0.0.1/cb', code_verifier: 'v'.repeat(43) });
      expect(await expectOAuthError(response, 400, 'unauthorized_client')).toContain('authorization_code');
    });

    it.each([
      ['missing grant_type', { client_id: 'demo-cli', device_code: 'x' }, /grant_type is required/],
      ['empty grant_type', { client_id: 'demo-cli', grant_type: '', device_code: 'x' }, /grant_type is required/],
      ['missing device_code', { client_id: 'demo-cli', grant_type: DEVICE_GRANT }, /device_code is required/],
      [
        'repeated device_code',
        { client_id: 'demo-cli', grant_type: DEVICE_GRANT, device_code: ['a', 'b'] },
        /device_code must not be repeated/,
      ],
      [
        'repeated grant_type',
        { client_id: 'demo-cli', grant_type: [DEVICE_GRANT, DEVICE_GRANT], device_code: 'x' },
        /grant_type must not be repeated/,
      ],
      ['missing client_id', { grant_type: DEVICE_GRANT, device_code: 'x' }, /client_id is required/],
      ['a relative resource', { client_id: 'demo-cli', grant_type: DEVICE_GRANT, device_code: 'x', resource: '/api' }, /resource/],
    ] as [string, Params, RegExp][])('invalid_request for %s', async (_, params, message) => {
      expect(await expectOAuthError(await token(params), 400, 'invalid_request')).toMatch(message);
    });

    it('invalid_request for a JSON body', async () => {
      const body = JSON.stringify({ grant_type: DEVICE_GRANT, device_code: 'x', client_id: 'demo-cli' });
      const response = await post('/oauth/token', body, { 'content-type': 'application/json' });
      expect(await expectOAuthError(response, 400, 'invalid_request')).toMatch(/x-www-form-urlencoded/);
    });

    it.each(['GET', 'PUT', 'DELETE'])('%s → 405 with Allow: POST', async (method) => {
      const response = await post('/oauth/token', method === 'GET' ? undefined : 'client_id=demo-cli', { 'content-type': FORM }, method);
      await expectOAuthError(response, 405, 'invalid_request');
      expect(response.headers.get('allow')).toBe('POST');
    });

    it('401 invalid_client for an unknown client, without WWW-Authenticate', async () => {
      const response = await token({ grant_type: DEVICE_GRANT, device_code: 'x', client_id: 'nobody' });
      await expectOAuthError(response, 401, 'invalid_client');
      expect(response.headers.get('www-authenticate')).toBeNull();
    });

    it('401 invalid_client with WWW-Authenticate: Basic for a confidential client with a wrong Basic secret', async () => {
      const { deviceCode, userCode } = await authorize({}, { authorization: basic('basic-service', CONFIDENTIAL_SECRET) });
      await approve(userCode);
      const redeem = (secret: string) =>
        token({ grant_type: DEVICE_GRANT, device_code: deviceCode }, { authorization: basic('basic-service', secret) });
      const response = await redeem('wrong');
      await expectOAuthError(response, 401, 'invalid_client');
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      // The failed attempt did not consume the grant.
      await expectTokenResponse(await redeem(CONFIDENTIAL_SECRET), WITHOUT_REFRESH);
    });

    it('401 invalid_client for a confidential client that sends no secret', async () => {
      const response = await token({ grant_type: DEVICE_GRANT, device_code: 'x', client_id: 'basic-service' });
      await expectOAuthError(response, 401, 'invalid_client');
    });
  });
});
