import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { describe, expect, it } from 'vitest';
import { expectOAuthError, useTestServer } from '../support/oauth.js';
import type { AuthorizationServerMetadata } from '../../src/contracts/discovery.js';
import { DEVICE_GRANT, form, type StoreKind } from '../support/server.js';

const FORM = 'application/x-www-form-urlencoded';
const METADATA_PATH = '/.well-known/oauth-authorization-server';
const JWKS_PATH = '/.well-known/jwks.json';

type Json = Record<string, unknown>;

describe.each<StoreKind>(['memory', 'redis'])('discovery: RFC 8414 metadata and the JWKS (%s store)', (kind) => {
  const server = useTestServer(kind);

  async function getJson(path: string): Promise<{ response: Response; body: Json }> {
    const response = await fetch(`${server.url}${path}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    return { response, body: (await response.json()) as Json };
  }
  const metadata = async () => (await getJson(METADATA_PATH)).body as Json & AuthorizationServerMetadata;


  describe('GET /.well-known/oauth-authorization-server', () => {
    it('names the issuer exactly as ISSUER, and every endpoint under it', async () => {
      const { response, body } = await getJson(METADATA_PATH);
      expect(response.headers.get('cache-control')).toBe('public, max-age=300');
      expect(body.issuer).toBe(server.url);
      expect(body).toMatchObject({
        device_authorization_endpoint: `${server.url}/oauth/device/authorize`,
        token_endpoint: `${server.url}/oauth/token`,
        revocation_endpoint: `${server.url}/oauth/revoke`,
        introspection_endpoint: `${server.url}/oauth/introspect`,
        jwks_uri: `${server.url}${JWKS_PATH}`,
        service_documentation: `${server.url}/docs`,
      });
      for (const [name, value] of Object.entries(body)) {
        if (name.endsWith('_endpoint') || name === 'jwks_uri' || name === 'service_documentation') {
          expect(value, name).toMatch(new RegExp(`^${server.url.replace(/[.]/g, '\\.')}/`));
        }
      }
    });

    it('advertises the three grants, the scopes, the client authentication methods and the authorization endpoint', async () => {
      const body = await metadata();
      expect(body.grant_types_supported).toEqual(expect.arrayContaining([DEVICE_GRANT, 'refresh_token', 'authorization_code']));
      expect(body.grant_types_supported).toHaveLength(3);
      expect(body.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'mcp:tools']));
      expect(body.scopes_supported).toEqual([...new Set(body.scopes_supported as string[])].sort());
      expect(body.token_endpoint_auth_methods_supported).toEqual(
        expect.arrayContaining(['none', 'client_secret_basic', 'client_secret_post']),
      );
      // RFC 7662 §2.1 / RFC 7662 §4: introspection is for authenticated clients only.
      expect(body.introspection_endpoint_auth_methods_supported).not.toContain('none');
      // OAuth 2.1 / MCP authorization: the code flow with PKCE S256 only, and iss in every response (RFC 9207).
      expect(body.authorization_endpoint).toBe(`${server.url}/oauth/authorize`);
      expect(body.device_authorization_endpoint).toBe(`${server.url}/oauth/device/authorize`);
      expect(body.response_types_supported).toEqual(['code']);
      expect(body.code_challenge_methods_supported).toEqual(['S256']);
      expect(body.authorization_response_iss_parameter_supported).toBe(true);
      // Client ID Metadata Documents are off unless the config enables them.
      expect(body).not.toHaveProperty('client_id_metadata_document_supported');
    });

    it('passes oauth4webapi discovery (RFC 8414 §3: the issuer matches the one asked for)', async () => {
      const issuer = new URL(server.url);
      // algorithm 'oauth2': RFC 8414's /.well-known/oauth-authorization-server (the default, 'oidc',
      // asks for /.well-known/openid-configuration, which an OAuth-only server does not publish).
      const response = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true });
      const as = await oauth.processDiscoveryResponse(issuer, response);
      expect(as.issuer).toBe(server.url);
      expect(as.device_authorization_endpoint).toBe(`${server.url}/oauth/device/authorize`);
      // A metadata document for another issuer is refused: the check is real.
      const elsewhere = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true });
      await expect(oauth.processDiscoveryResponse(new URL('http://127.0.0.1:1'), elsewhere)).rejects.toThrow(/issuer/);
    });

    it('answers HEAD like GET', async () => {
      const response = await fetch(`${server.url}${METADATA_PATH}`, { method: 'HEAD' });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    });
  });

  describe('every advertised endpoint answers', () => {
    it.each(['device_authorization_endpoint', 'token_endpoint', 'revocation_endpoint', 'introspection_endpoint'] as const)(
      '%s: an empty POST gets a JSON OAuth error, not a 404',
      async (name) => {
        const url = (await metadata())[name];
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': FORM }, body: form({}) });
        await expectOAuthError(response, 400, 'invalid_request');
        expect(response.headers.get('cache-control')).toBe('no-store');
      },
    );

    it('token_endpoint: a form POST with a grant_type reaches the grant logic', async () => {
      const { token_endpoint } = await metadata();
      const response = await fetch(token_endpoint, {
        method: 'POST',
        headers: { 'content-type': FORM },
        body: form({ grant_type: 'password', client_id: 'demo-cli' }),
      });
      await expectOAuthError(response, 400, 'unsupported_grant_type');
    });

    it('device_authorization_endpoint: issues codes', async () => {
      const { device_authorization_endpoint } = await metadata();
      const response = await fetch(device_authorization_endpoint, {
        method: 'POST',
        headers: { 'content-type': FORM },
        body: form({ client_id: 'demo-cli' }),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toHaveProperty('device_code');
    });

    it('jwks_uri serves the JWKS', async () => {
      const { jwks_uri } = await metadata();
      const response = await fetch(jwks_uri);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
    });

    it('service_documentation serves the Redoc page', async () => {
      const { service_documentation } = await metadata();
      const response = await fetch(service_documentation);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    });
  });

  describe('GET /.well-known/jwks.json', () => {
    it('publishes public EC P-256 keys only: kid, alg ES256, use sig, and no private member', async () => {
      const { response, body } = await getJson(JWKS_PATH);
      expect(response.headers.get('cache-control')).toBe('public, max-age=300');
      expect(Object.keys(body)).toEqual(['keys']);
      const keys = body.keys as Json[];
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
        expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
        expect(key).not.toHaveProperty('d');
        expect(key.kid).toEqual(expect.any(String));
        expect((key.kid as string).length).toBeGreaterThan(0);
      }
      expect(new Set(keys.map((key) => key.kid)).size).toBe(keys.length);
    });

    it('verifies the access tokens the server issues', async () => {
      const authorized = await fetch(`${server.url}/oauth/device/authorize`, {
        method: 'POST',
        headers: { 'content-type': FORM },
        body: form({ client_id: 'demo-cli', scope: 'openid' }),
      });
      const { device_code, user_code } = (await authorized.json()) as { device_code: string; user_code: string };
      await server.stores.grants.decide(user_code.replace('-', ''), { kind: 'approve', subject: 'alice' }, server.clock.now());
      const issued = await fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': FORM },
        body: form({ grant_type: DEVICE_GRANT, device_code, client_id: 'demo-cli' }),
      });
      const { access_token } = (await issued.json()) as { access_token: string };
      const { jwks_uri } = await metadata();
      const { payload } = await jwtVerify(access_token, createRemoteJWKSet(new URL(jwks_uri)), {
        issuer: server.url,
        audience: server.url,
        typ: 'at+jwt',
        currentDate: new Date(server.clock.now()),
      });
      expect(payload.sub).toBe('alice');
    });
  });

  describe('the discovery documents are GET-only', () => {
    it.each([METADATA_PATH, JWKS_PATH])('POST %s → 405 with Allow: GET, HEAD and an RFC error body', async (path) => {
      const init = { method: 'POST', headers: { 'content-type': FORM }, body: 'client_id=demo-cli' };
      const response = await fetch(`${server.url}${path}`, init);
      await expectOAuthError(response, 405, 'invalid_request');
      expect(response.headers.get('allow')).toBe('GET, HEAD');
    });

    it.each(['PUT', 'DELETE'])('%s → 405', async (method) => {
      const response = await fetch(`${server.url}${METADATA_PATH}`, { method });
      await expectOAuthError(response, 405, 'invalid_request');
    });
  });
});
