import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extractResourceMetadataUrl } from '@modelcontextprotocol/sdk/client/auth.js';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createResourceServer,
  InsufficientScopeError,
  InvalidTokenError,
  KeySetUnavailableError,
  protectedResourceMetadataPaths,
  protectedResourceMetadataUrl,
  type ResourceServer,
} from '../../src/resource-server/index.js';

/**
 * The helper against an issuer this test controls: its own key set served over HTTP, tokens signed
 * with any header and claims, so every refusal can be produced on purpose.
 */
const RESOURCE = 'https://mcp.example.com/mcp';
let issuerKey: CryptoKey;
let strangerKey: CryptoKey;
let jwksServer: Server;
let issuer: string;
let jwksRequests = 0;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  issuerKey = pair.privateKey;
  strangerKey = (await generateKeyPair('ES256')).privateKey;
  const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  jwksServer = createServer((request, response) => {
    jwksRequests++;
    if (request.url === '/.well-known/jwks.json') response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => jwksServer.close(resolve)));

interface TokenOptions {
  readonly claims?: JWTPayload;
  readonly header?: Record<string, unknown>;
  readonly key?: CryptoKey;
  readonly omit?: readonly string[];
}
async function token({ claims = {}, header = {}, key = issuerKey, omit = [] }: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = { iss: issuer, sub: 'alice', aud: RESOURCE, client_id: 'demo-cli', scope: 'openid mcp:tools', iat: now, exp: now + 300, jti: 'j1', grant_id: 'g1', ...claims };
  for (const claim of omit) delete payload[claim];
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1', ...header }).sign(key);
}

const server = (options: Partial<Parameters<typeof createResourceServer>[0]> = {}): ResourceServer =>
  createResourceServer({ issuer, resource: RESOURCE, ...options });

describe('verifyAccessToken', () => {
  it('accepts a good token and reports its claims', async () => {
    const raw = await token();
    const verified = await server({ requiredScopes: ['mcp:tools'] }).verifyAccessToken(raw);
    expect(verified).toMatchObject({ token: raw, subject: 'alice', clientId: 'demo-cli', scopes: ['openid', 'mcp:tools'], audience: [RESOURCE], jti: 'j1', grantId: 'g1' });
  });

  it('accepts a token whose audience list contains this resource', async () => {
    const verified = await server().verifyAccessToken(await token({ claims: { aud: ['https://other.example.com/', RESOURCE] } }));
    expect(verified.audience).toEqual(['https://other.example.com/', RESOURCE]);
  });

  const refusals: [string, () => Promise<string>, RegExp][] = [
    ['another audience', () => token({ claims: { aud: 'https://other.example.com/mcp' } }), /not issued for this resource/],
    ['the resource with a trailing slash added', () => token({ claims: { aud: `${RESOURCE}/` } }), /not issued for this resource/],
    ['no audience', () => token({ omit: ['aud'] }), /not issued for this resource|aud/],
    ['another issuer', () => token({ claims: { iss: 'https://evil.example.com' } }), /another authorization server/],
    ['typ JWT (an ID token or other JWT)', () => token({ header: { typ: 'JWT' } }), /typ must be at\+jwt/],
    ['no typ', () => token({ header: { typ: undefined } }), /typ must be at\+jwt/],
    ['expired', () => token({ claims: { exp: Math.floor(Date.now() / 1000) - 10 } }), /expired/],
    ['no expiry', () => token({ omit: ['exp'] }), /exp/],
    ['no subject', () => token({ omit: ['sub'] }), /sub/],
    ['no client_id', () => token({ omit: ['client_id'] }), /client_id/],
    ['signed by another key with the same kid', () => token({ key: strangerKey }), /signature/],
    ['an unknown kid', () => token({ header: { kid: 'k2' } }), /signature/],
    ['not a JWT', async () => 'not-a-jwt', /not a valid access token/],
    ['alg none', async () => `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: issuer, aud: RESOURCE, sub: 'a', client_id: 'c', exp: 9e9 })).toString('base64url')}.`, /not a valid access token/],
  ];
  it.each(refusals)('refuses %s with InvalidTokenError', async (_, make, message) => {
    const error = await server().verifyAccessToken(await make()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidTokenError);
    expect((error as Error).message).toMatch(message);
  });

  it('refuses a token lacking a required scope with InsufficientScopeError naming every required scope', async () => {
    const error = await server({ requiredScopes: ['mcp:tools'] }).verifyAccessToken(await token({ claims: { scope: 'openid' } }), ['mcp:admin']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InsufficientScopeError);
    expect((error as InsufficientScopeError).requiredScopes).toEqual(['mcp:tools', 'mcp:admin']);
    const noScope = await server({ requiredScopes: ['mcp:tools'] }).verifyAccessToken(await token({ omit: ['scope'] })).catch((e: unknown) => e);
    expect(noScope).toBeInstanceOf(InsufficientScopeError);
  });

  it('honours the clock and the tolerance', async () => {
    const raw = await token();
    const later = Date.now() + 301_000;
    await expect(server({ now: () => later }).verifyAccessToken(raw)).rejects.toThrow(InvalidTokenError);
    await expect(server({ now: () => later, clockToleranceSeconds: 30 }).verifyAccessToken(raw)).resolves.toMatchObject({ subject: 'alice' });
  });

  it('reports an unreachable key set as KeySetUnavailableError, not as a bad token', async () => {
    const unreachable = server({ jwksUri: 'http://127.0.0.1:1/.well-known/jwks.json' });
    await expect(unreachable.verifyAccessToken(await token())).rejects.toThrow(KeySetUnavailableError);
    const notKeys = server({ jwksUri: `${issuer}/nothing-here` });
    await expect(notKeys.verifyAccessToken(await token())).rejects.toThrow(KeySetUnavailableError);
  });

  it('fetches the key set once for many verifications', async () => {
    const resourceServer = server();
    const before = jwksRequests;
    for (let i = 0; i < 5; i++) await resourceServer.verifyAccessToken(await token());
    expect(jwksRequests - before).toBe(1);
  });
});

describe('authenticate: RFC 6750 answers with RFC 9728 resource_metadata', () => {
  const metadata = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';

  it('401 without an error code when there is no token, or another scheme (RFC 6750 §3.1)', async () => {
    for (const header of [undefined, 'Basic YTpi', 'Bearerx abc']) {
      expect(await server({ requiredScopes: ['mcp:tools'] }).authenticate(header)).toEqual({
        ok: false,
        status: 401,
        wwwAuthenticate: `Bearer scope="mcp:tools", resource_metadata="${metadata}"`,
        body: null,
      });
    }
  });

  it('401 invalid_token for a bad token', async () => {
    const result = await server().authenticate(`Bearer ${await token({ claims: { aud: 'https://other.example.com/' } })}`);
    expect(result).toEqual({
      ok: false,
      status: 401,
      wwwAuthenticate: `Bearer error="invalid_token", error_description="the token was not issued for this resource", resource_metadata="${metadata}"`,
      body: { error: 'invalid_token', error_description: 'the token was not issued for this resource' },
    });
    expect((await server().authenticate('Bearer a b')).ok).toBe(false);
    expect(await server().authenticate('Bearer a"b')).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  });

  it('403 insufficient_scope with the needed scope', async () => {
    const result = await server({ requiredScopes: ['mcp:tools'] }).authenticate(`Bearer ${await token({ claims: { scope: 'openid' } })}`, ['mcp:write']);
    expect(result).toMatchObject({
      ok: false,
      status: 403,
      wwwAuthenticate: `Bearer error="insufficient_scope", error_description="the token lacks the scope mcp:tools mcp:write", scope="mcp:tools mcp:write", resource_metadata="${metadata}"`,
      body: { error: 'insufficient_scope' },
    });
  });

  it('400 invalid_request for an empty bearer token or two Authorization headers', async () => {
    expect(await server().authenticate('Bearer ')).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await server().authenticate(['Bearer a', 'Bearer b'])).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it('503 without a challenge when the key set is unreachable', async () => {
    const result = await server({ jwksUri: 'http://127.0.0.1:1/jwks' }).authenticate(`Bearer ${await token()}`);
    expect(result).toMatchObject({ ok: false, status: 503, wwwAuthenticate: undefined, body: { error: 'temporarily_unavailable' } });
  });

  it('accepts the scheme case-insensitively (RFC 9110 §11.1)', async () => {
    expect((await server().authenticate(`bearer ${await token()}`)).ok).toBe(true);
  });
});

describe('RFC 9728 metadata', () => {
  it('builds the metadata URL by inserting the well-known path before the resource path (§3.1)', () => {
    expect(protectedResourceMetadataUrl('https://mcp.example.com/mcp')).toBe('https://mcp.example.com/.well-known/oauth-protected-resource/mcp');
    expect(protectedResourceMetadataUrl('https://mcp.example.com/')).toBe('https://mcp.example.com/.well-known/oauth-protected-resource');
    expect(protectedResourceMetadataUrl('https://mcp.example.com')).toBe('https://mcp.example.com/.well-known/oauth-protected-resource');
    expect(protectedResourceMetadataUrl('http://127.0.0.1:8080/a/b/')).toBe('http://127.0.0.1:8080/.well-known/oauth-protected-resource/a/b');
    expect(protectedResourceMetadataPaths('https://mcp.example.com/mcp')).toEqual(['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']);
    expect(protectedResourceMetadataPaths('https://mcp.example.com/')).toEqual(['/.well-known/oauth-protected-resource']);
  });

  it('refuses a resource with a fragment or that is not a URI (RFC 8707 §2)', () => {
    expect(() => server({ resource: 'https://mcp.example.com/#x' })).toThrow(TypeError);
    expect(() => server({ resource: 'mcp' })).toThrow(TypeError);
  });

  it('serves the document on both paths over node:http, and nothing else', async () => {
    const resourceServer = server({ requiredScopes: ['mcp:tools'], resourceName: 'Example MCP' });
    const http = createServer((request, response) => {
      if (!resourceServer.handleMetadataRequest(request, response)) response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource?x=1']) {
        const response = await fetch(`${base}${path}`);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
        expect(response.headers.get('access-control-allow-origin')).toBe('*');
        expect(await response.json()).toEqual({
          resource: RESOURCE,
          authorization_servers: [issuer],
          bearer_methods_supported: ['header'],
          scopes_supported: ['mcp:tools'],
          resource_name: 'Example MCP',
        });
      }
      expect((await fetch(`${base}/.well-known/oauth-protected-resource/other`)).status).toBe(404);
      expect((await fetch(`${base}/.well-known/oauth-protected-resource/mcp`, { method: 'POST' })).status).toBe(405);
      expect((await fetch(`${base}/.well-known/oauth-protected-resource/mcp`, { method: 'HEAD' })).status).toBe(200);
    } finally {
      await new Promise((resolve) => http.close(resolve));
    }
  });

  it('protect() writes the refusal and returns null, or returns the token', async () => {
    const resourceServer = server({ requiredScopes: ['mcp:tools'] });
    const http = createServer(async (request, response) => {
      const verified = await resourceServer.protect(request, response);
      if (verified) response.writeHead(200, { 'content-type': 'text/plain' }).end(verified.subject);
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      const ok = await fetch(base, { headers: { authorization: `Bearer ${await token()}` } });
      expect([ok.status, await ok.text()]).toEqual([200, 'alice']);
      const none = await fetch(base);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toContain('resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"');
      expect(none.headers.get('cache-control')).toBe('no-store');
      // The MCP SDK client reads our challenge as it reads its own.
      expect(extractResourceMetadataUrl(none)?.href).toBe('https://mcp.example.com/.well-known/oauth-protected-resource/mcp');
      const scope = await fetch(base, { headers: { authorization: `Bearer ${await token({ claims: { scope: 'openid' } })}` } });
      expect(scope.status).toBe(403);
      expect(await scope.json()).toMatchObject({ error: 'insufficient_scope' });
    } finally {
      await new Promise((resolve) => http.close(resolve));
    }
  });
});
