import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigFile, parseConfigFile } from '../../src/config.js';
import { s256Challenge } from '../../src/domain/pkce.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { DEVICE_GRANT, form, type StoreKind, startTestServer, TEST_USERS, type TestServer, testConfigFile } from '../support/server.js';
import { Agent, type PageResponse } from '../ui/agent.js';

/**
 * The authorization endpoint (issue 11): RFC 6749 §4.1 with OAuth 2.1's PKCE S256, RFC 8252 §7.3
 * loopback redirects, RFC 8707 resources and RFC 9207 `iss`; every error path with its exact code,
 * shown on the page or sent back to the client, and the token endpoint's authorization_code grant.
 */

const RESOURCE = 'https://mcp.example.com/';
const CALLBACK = 'http://127.0.0.1/callback';
const WEB_CALLBACK = 'https://app.example.com/oauth/callback?tenant=7';

async function authorizeConfig(extra: Record<string, unknown> = {}): Promise<ConfigFile> {
  const base = await testConfigFile();
  return parseConfigFile(
    JSON.stringify({
      ...base,
      ...extra,
      clients: [
        ...base.clients,
        {
          client_id: 'browser-app',
          client_name: 'Browser App',
          grant_types: ['authorization_code', 'refresh_token'],
          scope: 'openid profile mcp:tools',
          redirect_uris: [CALLBACK, WEB_CALLBACK, 'http://localhost:8765/callback'],
          resources: [RESOURCE],
        },
        {
          client_id: 'other-browser-app',
          grant_types: ['authorization_code'],
          scope: 'openid',
          redirect_uris: [CALLBACK],
        },
        // Has redirect URIs but not the code grant: unauthorized_client, sent back.
        { client_id: 'device-only-with-redirect', grant_types: [DEVICE_GRANT], scope: 'openid', redirect_uris: [CALLBACK] },
      ],
    }),
  );
}

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url');
  return { verifier, challenge: s256Challenge(verifier) };
}

describe.each<StoreKind>(['memory', 'redis'])('authorization endpoint and authorization_code grant (%s store)', (kind) => {
  let redis: TestRedis | undefined;
  let server: TestServer;
  let person: Agent;

  beforeAll(async () => {
    if (kind === 'redis') redis = await startTestRedis();
    server = await startTestServer(kind, redis, undefined, await authorizeConfig());
    person = new Agent(server.url);
    const page = await person.get('/device/sign-in');
    expect(page.status).toBe(200);
    const signedIn = await person.post('/device/sign-in', { username: 'alice', password: TEST_USERS.alice });
    expect(signedIn.status).toBe(303);
  });
  afterAll(async () => {
    await server?.close();
    await redis?.close();
  });

  function requestParams(overrides: Record<string, string | string[] | undefined> = {}) {
    const pkce = pkcePair();
    const params: Record<string, string | string[] | undefined> = {
      response_type: 'code',
      client_id: 'browser-app',
      redirect_uri: 'http://127.0.0.1:43123/callback',
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      state: `st-${randomBytes(6).toString('hex')}`,
      scope: 'openid mcp:tools',
      resource: RESOURCE,
      ...overrides,
    };
    const defined = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Record<string, string | string[]>;
    return { params: defined, verifier: pkce.verifier };
  }

  const authorizePath = (params: Record<string, string | string[]>) => `/oauth/authorize?${form(params)}`;

  /** A page error: shown, never redirected (RFC 6749 §4.1.2.1). */
  function expectShownError(page: PageResponse, status: number, error: string): void {
    expect(page.status, page.text.slice(0, 300)).toBe(status);
    expect(page.location).toBeNull();
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.html).toContain(`data-error="${error}"`);
  }

  /** An error sent back to the client: error, the request's state, and iss (RFC 9207). */
  function expectRedirectedError(page: PageResponse, redirectBase: string, error: string, state: string): URL {
    expect(page.status, page.text.slice(0, 300)).toBe(303);
    const location = new URL(page.location!);
    expect(`${location.origin}${location.pathname}`).toBe(redirectBase);
    expect(location.searchParams.get('error')).toBe(error);
    expect(location.searchParams.get('state')).toBe(state);
    expect(location.searchParams.get('iss')).toBe(server.url);
    expect(location.searchParams.has('code')).toBe(false);
    return location;
  }

  /** Runs the person's side to the decision; returns the redirect back to the client. */
  async function decide(params: Record<string, string | string[]>, decision: 'approve' | 'deny', agent = person): Promise<URL> {
    const entry = await agent.get(authorizePath(params));
    expect(entry.status, entry.text.slice(0, 300)).toBe(303);
    expect(entry.location).toMatch(/^\/device\/authorize\?/);
    const begun = await agent.get(entry.location!);
    expect({ status: begun.status, location: begun.location }).toEqual({ status: 303, location: '/device/authorize/confirm' });
    const confirm = await agent.get('/device/authorize/confirm');
    expect(confirm.status).toBe(200);
    const decided = await agent.post('/device/authorize/confirm', { decision });
    expect(decided.status).toBe(303);
    return new URL(decided.location!);
  }

  async function obtainCode(overrides: Record<string, string | string[] | undefined> = {}) {
    const { params, verifier } = requestParams(overrides);
    const back = await decide(params, 'approve');
    return { code: back.searchParams.get('code')!, verifier, params, back };
  }

  function tokenRequest(fields: Record<string, string | string[]>) {
    return fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form(fields),
    });
  }

  async function expectTokenError(response: Response, status: number, error: string): Promise<void> {
    const body = (await response.json()) as { error: string; error_description?: string };
    expect({ status: response.status, error: body.error }, body.error_description).toEqual({ status, error });
  }

  describe('the happy path', () => {
    it('signs in, confirms, redirects with code, state and iss, and the code buys RFC 9068 tokens for the resource', async () => {
      const anonymous = new Agent(server.url);
      const { params, verifier } = requestParams();
      const entry = await anonymous.get(authorizePath(params));
      expect(entry.status).toBe(303);
      const begun = await anonymous.get(entry.location!);
      expect({ status: begun.status, location: begun.location }).toEqual({ status: 303, location: '/device/sign-in' });
      await anonymous.get('/device/sign-in');
      const signedIn = await anonymous.post('/device/sign-in', { username: 'bob', password: TEST_USERS.bob });
      expect({ status: signedIn.status, location: signedIn.location }).toEqual({ status: 303, location: '/device/authorize/confirm' });
      const confirm = await anonymous.get('/device/authorize/confirm');
      expect(confirm.status).toBe(200);
      expect(confirm.text).toContain('Browser App');
      expect(confirm.text).toContain('Use MCP tools on your behalf');
      expect(confirm.text).toContain(RESOURCE);
      expect(confirm.text).toContain('127.0.0.1:43123'); // where the browser returns
      // Browsers apply form-action to the redirect after Approve: the client's origin, and only it, is allowed.
      expect(confirm.headers.get('content-security-policy')).toContain("form-action 'self' http://127.0.0.1:43123;");
      const decided = await anonymous.post('/device/authorize/confirm', { decision: 'approve' });
      expect(decided.status).toBe(303);
      const back = new URL(decided.location!);
      expect(`${back.origin}${back.pathname}`).toBe('http://127.0.0.1:43123/callback');
      expect(back.searchParams.get('state')).toBe(params.state);
      expect(back.searchParams.get('iss')).toBe(server.url);
      const code = back.searchParams.get('code')!;
      expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);

      const response = await tokenRequest({
        grant_type: 'authorization_code',
        client_id: 'browser-app',
        code,
        code_verifier: verifier,
        redirect_uri: 'http://127.0.0.1:43123/callback',
        resource: RESOURCE,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const tokens = (await response.json()) as Record<string, unknown>;
      expect(tokens).toMatchObject({ token_type: 'Bearer', scope: 'openid mcp:tools' });
      expect(typeof tokens.refresh_token).toBe('string');
      const claims = decodeJwt(tokens.access_token as string);
      expect(claims).toMatchObject({ iss: server.url, sub: 'bob', client_id: 'browser-app', aud: RESOURCE });
      expect(typeof claims.grant_id).toBe('string');

      // Refresh rotates like the device grant's.
      const refreshed = await tokenRequest({ grant_type: 'refresh_token', client_id: 'browser-app', refresh_token: tokens.refresh_token as string });
      expect(refreshed.status).toBe(200);
    });

    it('accepts the request as a POST form (OAuth 2.1 §4.1.1) and keeps a registered query on the redirect', async () => {
      const { params, verifier } = requestParams({ redirect_uri: WEB_CALLBACK });
      const posted = await person.post('/oauth/authorize', params as Record<string, string>, { csrf: null });
      expect(posted.status).toBe(303);
      const begun = await person.get(posted.location!);
      expect(begun.location).toBe('/device/authorize/confirm');
      await person.get('/device/authorize/confirm');
      const decided = await person.post('/device/authorize/confirm', { decision: 'approve' });
      const back = new URL(decided.location!);
      expect(back.searchParams.get('tenant')).toBe('7');
      const response = await tokenRequest({
        grant_type: 'authorization_code',
        client_id: 'browser-app',
        code: back.searchParams.get('code')!,
        code_verifier: verifier,
        redirect_uri: WEB_CALLBACK,
      });
      expect(response.status).toBe(200);
    });

    it('Deny redirects with access_denied, state and iss', async () => {
      const { params } = requestParams();
      const back = await decide(params, 'deny');
      expect(back.searchParams.get('error')).toBe('access_denied');
      expect(back.searchParams.get('state')).toBe(params.state);
      expect(back.searchParams.get('iss')).toBe(server.url);
      expect(back.searchParams.has('code')).toBe(false);
    });

    it('refuses a decision without the CSRF token (403) and without a pending request', async () => {
      const { params } = requestParams();
      const entry = await person.get(authorizePath(params));
      await person.get(entry.location!);
      const forged = await person.post('/device/authorize/confirm', { decision: 'approve' }, { csrf: 'forged' });
      expect(forged.status).toBe(403);
      expect(forged.location).toBeNull();
      // Decided once: a second decision finds nothing pending.
      await person.get('/device/authorize/confirm');
      expect((await person.post('/device/authorize/confirm', { decision: 'approve' })).status).toBe(303);
      const again = await person.post('/device/authorize/confirm', { decision: 'approve' });
      expect(again.status).toBe(400);
      expect(again.location).toBeNull();
    });
  });

  describe('errors shown on the page, never redirected (RFC 6749 §4.1.2.1)', () => {
    it('unknown client → invalid_client', async () => {
      expectShownError(await person.get(authorizePath(requestParams({ client_id: 'nobody' }).params)), 401, 'invalid_client');
    });

    it('missing client_id or redirect_uri → invalid_request', async () => {
      expectShownError(await person.get(authorizePath(requestParams({ client_id: undefined }).params)), 400, 'invalid_request');
      expectShownError(await person.get(authorizePath(requestParams({ redirect_uri: undefined }).params)), 400, 'invalid_request');
    });

    it('a redirect_uri that is not registered → invalid_request (exact match, no prefix)', async () => {
      for (const redirect of [
        'https://evil.example.com/callback',
        'https://app.example.com/oauth/callback', // registered with ?tenant=7
        'https://app.example.com/oauth/callback?tenant=7&x=1',
        'http://127.0.0.1:43123/callback/extra',
        'http://127.0.0.1:43123/other',
      ]) {
        expectShownError(await person.get(authorizePath(requestParams({ redirect_uri: redirect }).params)), 400, 'invalid_request');
      }
    });

    it('loopback port rule (RFC 8252 §7.3): 127.0.0.1 and [::1] on any port; localhost only exactly', async () => {
      for (const port of ['1', '43123', '65535']) {
        const page = await person.get(authorizePath(requestParams({ redirect_uri: `http://127.0.0.1:${port}/callback` }).params));
        expect(page.status).toBe(303);
      }
      // The registered one without a port matches too.
      expect((await person.get(authorizePath(requestParams({ redirect_uri: CALLBACK }).params))).status).toBe(303);
      // [::1] is not registered for this client: the rule ignores only the port, never the host.
      expectShownError(await person.get(authorizePath(requestParams({ redirect_uri: 'http://[::1]:43123/callback' }).params)), 400, 'invalid_request');
      expectShownError(await person.get(authorizePath(requestParams({ redirect_uri: 'http://localhost:9999/callback' }).params)), 400, 'invalid_request');
      expect((await person.get(authorizePath(requestParams({ redirect_uri: 'http://localhost:8765/callback' }).params))).status).toBe(303);
      expectShownError(await person.get(authorizePath(requestParams({ redirect_uri: 'https://127.0.0.1:43123/callback' }).params)), 400, 'invalid_request');
    });

    it('an unreadable POST body → 400 page, and no cookie that would replace the signed-in session', async () => {
      const response = await fetch(`${server.url}/oauth/authorize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.getSetCookie()).toEqual([]);
      const shown = await fetch(`${server.url}${authorizePath(requestParams({ client_id: 'nobody' }).params)}`);
      expect(shown.headers.getSetCookie()).toEqual([]);
    });

    it('a client without redirect_uris (device-only) → invalid_request on the page', async () => {
      expectShownError(await person.get(authorizePath(requestParams({ client_id: 'demo-cli' }).params)), 400, 'invalid_request');
    });
  });

  describe('errors sent back to the client with state and iss', () => {
    const base = 'http://127.0.0.1:43123/callback';

    it.each([
      ['PKCE missing', { code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
      ['PKCE plain', { code_challenge_method: 'plain' }, 'invalid_request'],
      ['PKCE method missing', { code_challenge_method: undefined }, 'invalid_request'],
      ['PKCE challenge malformed', { code_challenge: 'short' }, 'invalid_request'],
      ['response_type missing', { response_type: undefined }, 'invalid_request'],
      ['response_type token', { response_type: 'token' }, 'unsupported_response_type'],
      ['resource not allowed', { resource: 'https://other.example.com/api' }, 'invalid_target'],
      ['one of two resources not allowed', { resource: [RESOURCE, 'https://elsewhere.example/'] }, 'invalid_target'],
      ['scope not allowed', { scope: 'openid admin' }, 'invalid_scope'],
      ['state sent twice', { state: ['a', 'b'] }, 'invalid_request'],
      ['state too long', { state: 's'.repeat(1_001) }, 'invalid_request'],
    ] as const)('%s → %s', async (_, overrides, error) => {
      const { params } = requestParams(overrides as Record<string, string | string[] | undefined>);
      // A repeated or overlong state is not echoed: it is not a state the client could have meant.
      const expectedState = Array.isArray(params.state) || (params.state as string).length > 1_000 ? null : (params.state as string);
      const page = await person.get(authorizePath(params));
      if (expectedState === null) {
        expect(page.status).toBe(303);
        const location = new URL(page.location!);
        expect(location.searchParams.get('error')).toBe(error);
        expect(location.searchParams.get('iss')).toBe(server.url);
        expect(location.searchParams.has('state')).toBe(false);
      } else expectRedirectedError(page, base, error, expectedState);
    });

    it('a client not allowed the code grant → unauthorized_client', async () => {
      const { params } = requestParams({ client_id: 'device-only-with-redirect', scope: 'openid', resource: undefined });
      expectRedirectedError(await person.get(authorizePath(params)), base, 'unauthorized_client', params.state as string);
    });
  });

  describe('the authorization_code grant at the token endpoint', () => {
    const redirect = 'http://127.0.0.1:43123/callback';

    it('code reuse → invalid_grant, and what the first redemption issued is revoked (RFC 6749 §4.1.2)', async () => {
      const { code, verifier } = await obtainCode();
      const exchange = { grant_type: 'authorization_code', client_id: 'browser-app', code, code_verifier: verifier, redirect_uri: redirect };
      const first = await tokenRequest(exchange);
      expect(first.status).toBe(200);
      const tokens = (await first.json()) as { refresh_token: string; access_token: string };
      await expectTokenError(await tokenRequest(exchange), 400, 'invalid_grant');
      // The refresh family of the first redemption is gone.
      await expectTokenError(await tokenRequest({ grant_type: 'refresh_token', client_id: 'browser-app', refresh_token: tokens.refresh_token }), 400, 'invalid_grant');
      // And its access token reads as revoked (its grant_id names the revoked family).
      const { grant_id } = decodeJwt(tokens.access_token) as { grant_id: string };
      expect(await server.stores.tokens.isFamilyRevoked(grant_id, server.clock.now())).toBe(true);
    });

    it('wrong code_verifier → invalid_grant, and the code is spent', async () => {
      const { code, verifier } = await obtainCode();
      const exchange = { grant_type: 'authorization_code', client_id: 'browser-app', code, redirect_uri: redirect };
      await expectTokenError(await tokenRequest({ ...exchange, code_verifier: pkcePair().verifier }), 400, 'invalid_grant');
      await expectTokenError(await tokenRequest({ ...exchange, code_verifier: verifier }), 400, 'invalid_grant');
    });

    it('missing or malformed code_verifier → invalid_request, and the code is NOT spent', async () => {
      const { code, verifier } = await obtainCode();
      const exchange = { grant_type: 'authorization_code', client_id: 'browser-app', code, redirect_uri: redirect };
      await expectTokenError(await tokenRequest(exchange), 400, 'invalid_request');
      await expectTokenError(await tokenRequest({ ...exchange, code_verifier: 'too-short' }), 400, 'invalid_request');
      expect((await tokenRequest({ ...exchange, code_verifier: verifier })).status).toBe(200);
    });

    it('redirect_uri missing → invalid_request; different from the request → invalid_grant', async () => {
      const { code, verifier } = await obtainCode();
      const exchange = { grant_type: 'authorization_code', client_id: 'browser-app', code, code_verifier: verifier };
      await expectTokenError(await tokenRequest(exchange), 400, 'invalid_request');
      // Another loopback port is another redirect_uri: RFC 6749 §4.1.3 compares with the request's.
      await expectTokenError(await tokenRequest({ ...exchange, redirect_uri: 'http://127.0.0.1:1/callback' }), 400, 'invalid_grant');
    });

    it('a code issued to another client → invalid_grant', async () => {
      const { code, verifier } = await obtainCode();
      await expectTokenError(
        await tokenRequest({ grant_type: 'authorization_code', client_id: 'other-browser-app', code, code_verifier: verifier, redirect_uri: redirect }),
        400,
        'invalid_grant',
      );
    });

    it('a resource not granted with the code → invalid_target', async () => {
      const { code, verifier } = await obtainCode();
      await expectTokenError(
        await tokenRequest({
          grant_type: 'authorization_code',
          client_id: 'browser-app',
          code,
          code_verifier: verifier,
          redirect_uri: redirect,
          resource: 'https://other.example.com/api',
        }),
        400,
        'invalid_target',
      );
    });

    it('an expired code (60 s) or an unknown one → invalid_grant', async () => {
      const { code, verifier } = await obtainCode();
      server.clock.advance(61_000);
      const exchange = { grant_type: 'authorization_code', client_id: 'browser-app', code_verifier: verifier, redirect_uri: redirect };
      await expectTokenError(await tokenRequest({ ...exchange, code }), 400, 'invalid_grant');
      await expectTokenError(await tokenRequest({ ...exchange, code: randomBytes(32).toString('base64url') }), 400, 'invalid_grant');
    });

    it('unknown client → invalid_client (401)', async () => {
      await expectTokenError(
        await tokenRequest({ grant_type: 'authorization_code', client_id: 'nobody', code: 'x', code_verifier: pkcePair().verifier, redirect_uri: redirect }),
        401,
        'invalid_client',
      );
    });
  });
});

describe('authorization requests naming a Client ID Metadata Document are flood-limited per client IP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(
      'memory',
      undefined,
      undefined,
      await authorizeConfig({
        client_id_metadata_documents: { enabled: true, allow_loopback: false, scope: 'openid' },
        rate_limits: {
          device_authorization: { per_ip: 2, per_client: 100, window: 60 },
          failed_client_authentication: { per_ip: 100, per_client: 100, window: 60 },
        },
      }),
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers 429 with Retry-After once the budget is spent; registered clients are not counted', async () => {
    const agent = new Agent(server.url);
    const request = (clientId: string) =>
      agent.get(
        `/oauth/authorize?${form({ response_type: 'code', client_id: clientId, redirect_uri: CALLBACK, code_challenge: pkcePair().challenge, code_challenge_method: 'S256' })}`,
      );
    for (let i = 0; i < 3; i++) expect((await request('browser-app')).status).toBe(303);
    // A private address is refused (invalid_client, SSRF guard) and counted; the third is limited.
    for (const n of [1, 2]) {
      const page = await request(`https://10.0.0.${n}/client.json`);
      expect(page.status).toBe(401);
      expect(page.html).toContain('data-error="invalid_client"');
    }
    const limited = await request('https://10.0.0.3/client.json');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.location).toBeNull();
  });
});
