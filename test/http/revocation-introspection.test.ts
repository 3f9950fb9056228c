import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
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
/** The test server's policy (test/support/server.ts): access tokens 600 s, refresh tokens 1 day. */
const ACCESS_TOKEN_TTL = 600;
const REFRESH_TOKEN_TTL = 86_400;
const INTERVAL_MS = 5_000;

type Params = Record<string, string | string[]>;
type Json = Record<string, unknown>;

describe.each<StoreKind>(['memory', 'redis'])('POST /oauth/revoke and /oauth/introspect (%s store)', (kind) => {
  const server = useTestServer(kind);

  const post = (path: string, params: Params, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': FORM, ...headers }, body: form(params) });
  const SERVICE = { authorization: basic('basic-service', CONFIDENTIAL_SECRET) };
  /** RFC 7662 as a resource server asks: basic-service, authenticated with HTTP Basic. */
  const introspect = (token: string, headers: Record<string, string> = SERVICE, extra: Params = {}) =>
    post('/oauth/introspect', { token, ...extra }, headers);
  /** RFC 7009 as a public client asks: client_id in the body. */
  const revoke = (token: string, clientId = 'demo-cli', extra: Params = {}) =>
    post('/oauth/revoke', { token, client_id: clientId, ...extra });
  const refresh = (refreshToken: string, clientId = 'demo-cli') =>
    post('/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });

  function expectNoStoreJson(response: Response): void {
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('pragma')).toBe('no-cache');
  }


  /** 200 with a JSON body (revocation: `{}`; introspection: the RFC 7662 §2.2 answer). */
  async function expectOk(response: Response): Promise<Json> {
    const text = await response.text();
    expect(response.status, text).toBe(200);
    expectNoStoreJson(response);
    return JSON.parse(text) as Json;
  }
  const expectRevoked = async (response: Response) => expect(await expectOk(response)).toEqual({});
  const expectInactive = async (response: Response) => expect(await expectOk(response)).toEqual({ active: false });

  /** The whole device flow for demo-cli, approved by alice: an access token and a refresh token. */
  async function issue(params: Params = { client_id: 'demo-cli', scope: 'openid profile' }) {
    const authorized = await post('/oauth/device/authorize', params);
    expect(authorized.status).toBe(200);
    const { device_code, user_code } = (await authorized.json()) as { device_code: string; user_code: string };
    expect(await server.stores.grants.decide(user_code.replace('-', ''), { kind: 'approve', subject: 'alice' }, server.clock.now())).toBe(
      'approved',
    );
    const response = await post('/oauth/token', { grant_type: DEVICE_GRANT, device_code, client_id: 'demo-cli' });
    const body = (await expectOk(response)) as { access_token: string; refresh_token: string };
    expect(typeof body.access_token).toBe('string');
    expect(typeof body.refresh_token).toBe('string');
    return body;
  }

  describe('revocation (RFC 7009)', () => {
    it('revokes a refresh token: 200, then invalid_grant at the token endpoint and inactive at introspection', async () => {
      const { refresh_token } = await issue();
      expect(await expectOk(await introspect(refresh_token))).toMatchObject({ active: true });
      await expectRevoked(await revoke(refresh_token, 'demo-cli', { token_type_hint: 'refresh_token' }));
      await expectOAuthError(await refresh(refresh_token), 400, 'invalid_grant');
      await expectInactive(await introspect(refresh_token));
    });

    it('revoking an already rotated refresh token revokes its successors (the whole family)', async () => {
      const { refresh_token: first } = await issue();
      const second = (await expectOk(await refresh(first))) as { refresh_token: string };
      await expectRevoked(await revoke(first));
      await expectInactive(await introspect(second.refresh_token));
      await expectOAuthError(await refresh(second.refresh_token), 400, 'invalid_grant');
    });

    // RFC 7009 §2.1: revoking a refresh token SHOULD also invalidate the access tokens of the same grant
    // (they carry it as grant_id; introspection checks the family).
    it('revoking a refresh token also deactivates the access tokens of its grant (RFC 7009 §2.1 SHOULD)', async () => {
      const { access_token, refresh_token } = await issue();
      await expectRevoked(await revoke(refresh_token));
      await expectInactive(await introspect(access_token));
    });

    it('revokes an access token: 200, then inactive at introspection', async () => {
      const { access_token } = await issue();
      expect(await expectOk(await introspect(access_token))).toMatchObject({ active: true });
      await expectRevoked(await revoke(access_token, 'demo-cli', { token_type_hint: 'access_token' }));
      await expectInactive(await introspect(access_token));
    });

    it('a misleading token_type_hint changes nothing (RFC 7009 §2.1: a hint only)', async () => {
      const { access_token, refresh_token } = await issue();
      await expectRevoked(await revoke(access_token, 'demo-cli', { token_type_hint: 'refresh_token' }));
      await expectRevoked(await revoke(refresh_token, 'demo-cli', { token_type_hint: 'access_token' }));
      await expectInactive(await introspect(access_token));
      await expectInactive(await introspect(refresh_token));
    });

    it.each([
      ['an opaque string', 'garbage'],
      ['a JWT-shaped string', 'a.b.c'],
      ['a refresh-token-shaped string', 'C'.repeat(43)],
    ])('answers 200 for %s', async (_, token) => {
      await expectRevoked(await revoke(token));
    });

    it("answers 200 for another client's tokens, which keep working", async () => {
      const { access_token, refresh_token } = await issue();
      await expectRevoked(await revoke(refresh_token, 'slow-cli'));
      await expectRevoked(await revoke(access_token, 'slow-cli'));
      await expectRevoked(await post('/oauth/revoke', { token: access_token }, SERVICE));
      expect(await expectOk(await introspect(access_token))).toMatchObject({ active: true });
      expect(await expectOk(await introspect(refresh_token))).toMatchObject({ active: true });
      expect(await expectOk(await refresh(refresh_token))).toMatchObject({ token_type: 'Bearer' });
    });

    it('invalid_request without token', async () => {
      const response = await post('/oauth/revoke', { client_id: 'demo-cli' });
      expect(await expectOAuthError(response, 400, 'invalid_request')).toMatch(/token is required/);
    });

    it('401 invalid_client for an unknown client', async () => {
      await expectOAuthError(await revoke('garbage', 'nobody'), 401, 'invalid_client');
    });

    it('405 with Allow: POST for GET', async () => {
      const response = await fetch(`${server.url}/oauth/revoke`);
      await expectOAuthError(response, 405, 'invalid_request');
      expect(response.headers.get('allow')).toBe('POST');
    });
  });

  describe('introspection (RFC 7662)', () => {
    it('describes a valid access token: active, sub, client_id, scope, aud, iss, exp, iat, jti, token_type Bearer', async () => {
      const { access_token } = await issue({ client_id: 'demo-cli', scope: 'openid profile', resource: MCP });
      const body = await expectOk(await introspect(access_token, SERVICE, { token_type_hint: 'access_token' }));
      expect(Object.keys(body).sort()).toEqual(['active', 'aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub', 'token_type']);
      const claims = decodeJwt(access_token);
      expect(body).toEqual({
        active: true,
        token_type: 'Bearer',
        iss: server.url,
        sub: 'alice',
        aud: MCP,
        client_id: 'demo-cli',
        scope: 'openid profile',
        iat: claims.iat,
        exp: claims.exp,
        jti: claims.jti,
      });
      expect((body.exp as number) - (body.iat as number)).toBe(ACCESS_TOKEN_TTL);
    });

    it('describes a valid refresh token: active, token_type refresh_token', async () => {
      const issuedAt = Math.floor(server.clock.now() / 1000);
      const { refresh_token } = await issue();
      const body = await expectOk(await introspect(refresh_token));
      expect(body).toEqual({
        active: true,
        token_type: 'refresh_token',
        sub: 'alice',
        client_id: 'demo-cli',
        scope: 'openid profile',
        iat: issuedAt,
        exp: issuedAt + REFRESH_TOKEN_TTL,
      });
    });

    it('authenticates client_secret_post clients too', async () => {
      const { access_token } = await issue();
      const body = await expectOk(await introspect(access_token, {}, { client_id: 'post-service', client_secret: CONFIDENTIAL_SECRET }));
      expect(body).toMatchObject({ active: true, sub: 'alice' });
    });

    it('{"active":false} exactly for an access token past its expiry', async () => {
      const { access_token } = await issue();
      server.clock.advance((ACCESS_TOKEN_TTL - 1) * 1000);
      expect(await expectOk(await introspect(access_token))).toMatchObject({ active: true });
      server.clock.advance(1_000);
      await expectInactive(await introspect(access_token));
    });

    it('{"active":false} for a refresh token that was rotated away', async () => {
      const { refresh_token } = await issue();
      server.clock.advance(INTERVAL_MS);
      const next = (await expectOk(await refresh(refresh_token))) as { refresh_token: string };
      await expectInactive(await introspect(refresh_token));
      expect(await expectOk(await introspect(next.refresh_token))).toMatchObject({ active: true, token_type: 'refresh_token' });
    });

    it.each([
      ['an opaque string', 'garbage'],
      ['a JWT-shaped string', 'a.b.c'],
      ['a refresh-token-shaped string', 'C'.repeat(43)],
    ])('{"active":false} for %s', async (_, token) => {
      await expectInactive(await introspect(token));
    });

    it('{"active":false} for an access token whose signature was tampered with', async () => {
      const { access_token } = await issue();
      const [header, payload, signature] = access_token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Json;
      const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'mallory' })).toString('base64url');
      await expectInactive(await introspect(`${header}.${forged}.${signature}`));
    });

    it('401 invalid_client for a public client', async () => {
      const { access_token } = await issue();
      const response = await introspect(access_token, {}, { client_id: 'demo-cli' });
      await expectOAuthError(response, 401, 'invalid_client');
      expect(response.headers.get('www-authenticate')).toBeNull();
    });

    it('401 invalid_client with WWW-Authenticate: Basic for a wrong secret', async () => {
      const { access_token } = await issue();
      const response = await introspect(access_token, { authorization: basic('basic-service', 'wrong') });
      await expectOAuthError(response, 401, 'invalid_client');
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    });

    it('refuses a request without any client authentication, telling nothing about the token', async () => {
      const { access_token } = await issue();
      // RFC 7662 §2.1: the endpoint MUST require some form of authorization; none is invalid_client.
      const response = await introspect(access_token, {});
      expect(await expectOAuthError(response, 401, 'invalid_client')).toMatch(/requires client authentication/);
    });

    it('invalid_request without token', async () => {
      const response = await post('/oauth/introspect', {}, SERVICE);
      expect(await expectOAuthError(response, 400, 'invalid_request')).toMatch(/token is required/);
    });

    it('405 with Allow: POST for GET', async () => {
      const response = await fetch(`${server.url}/oauth/introspect`, { headers: SERVICE });
      await expectOAuthError(response, 405, 'invalid_request');
      expect(response.headers.get('allow')).toBe('POST');
    });
  });
});
