import { normaliseUserCode, userCodeRoutingTag } from '../../src/domain/codes.js';
import { describe, expect, it } from 'vitest';
import { expectOAuthError, useTestServer } from '../support/oauth.js';
import { startTestRedis } from '../support/redis-server.js';
import { basic, CONFIDENTIAL_SECRET, form, type StoreKind, startTestServer } from '../support/server.js';

const FORM = 'application/x-www-form-urlencoded';

describe.each<StoreKind>(['memory', 'redis'])('POST /oauth/device/authorize (%s store)', (kind) => {
  const server = useTestServer(kind);

  const post = (body: string | undefined, headers: Record<string, string> = { 'content-type': FORM }, method = 'POST') =>
    fetch(`${server.url}/oauth/device/authorize`, { method, headers, body });


  describe('success', () => {
    it('issues codes with every RFC 8628 §3.2 field, expires_in and interval as configured', async () => {
      const response = await post(form({ client_id: 'demo-cli', scope: 'openid mcp:tools' }));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('pragma')).toBe('no-cache');
      const body = (await response.json()) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(
        ['device_code', 'expires_in', 'interval', 'user_code', 'verification_uri', 'verification_uri_complete'].sort(),
      );
      // `<routing tag of the user code>.<32 random bytes>` (README, "Redis keys").
      expect(body.device_code).toMatch(/^[A-Za-z0-9_-]{4}\.[A-Za-z0-9_-]{43}$/);
      expect(String(body.device_code).slice(0, 4)).toBe(userCodeRoutingTag(normaliseUserCode(String(body.user_code))!));
      expect(body.user_code).toMatch(/^[ABCDEFGHJKMNPQRSTUVWXYZ2-9]{4}-[ABCDEFGHJKMNPQRSTUVWXYZ2-9]{4}$/);
      expect(body.verification_uri).toBe(`${server.url}/device`);
      expect(body.verification_uri_complete).toBe(`${server.url}/device?user_code=${body.user_code}`);
      expect(body).toMatchObject({ expires_in: 600, interval: 5 });
    });

    it('stores the grant with the granted scope, resources, policy and requester', async () => {
      const response = await post(
        form({ client_id: 'demo-cli', scope: 'openid', resource: ['https://mcp.example.com/', 'https://other.example.com/api'] }),
        { 'content-type': FORM, 'user-agent': 'devicegate-test/1.0' },
      );
      const body = (await response.json()) as { user_code: string };
      const grant = await server.stores.grants.findByUserCode(body.user_code.replace('-', ''));
      expect(grant).toMatchObject({
        clientId: 'demo-cli',
        scope: ['openid'],
        resource: ['https://mcp.example.com/', 'https://other.example.com/api'],
        status: 'pending',
        interval: 5,
        createdAt: server.clock.now(),
        expiresAt: server.clock.now() + 600_000,
        requester: { ip: '127.0.0.1', userAgent: 'devicegate-test/1.0' },
      });
    });

    it('grants every registered scope when scope is omitted', async () => {
      const body = (await (await post(form({ client_id: 'demo-cli' }))).json()) as { user_code: string };
      expect((await server.stores.grants.findByUserCode(body.user_code.replace('-', '')))?.scope).toEqual(['openid', 'profile', 'mcp:tools']);
    });

    it("applies the client's own device_code policy", async () => {
      const body = await (await post(form({ client_id: 'slow-cli' }))).json();
      expect(body).toMatchObject({ expires_in: 300, interval: 10 });
    });

    it.each([
      'APPLICATION/X-WWW-FORM-URLENCODED',
      'application/x-www-form-urlencoded ; charset="UTF-8"',
      'application/x-www-form-urlencoded;charset=us-ascii',
    ])('accepts the form media type written as %s', async (contentType) => {
      expect((await post('client_id=demo-cli', { 'content-type': contentType })).status).toBe(200);
    });

    it('accepts a charset parameter, ignores unknown parameters, treats empty values as omitted', async () => {
      const response = await post(form({ client_id: 'demo-cli', scope: '', interval: '1', expires_in: '99999', 'x[y]': 'z' }), {
        'content-type': 'application/x-www-form-urlencoded; charset=UTF-8',
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ expires_in: 600, interval: 5 }); // the server dictates both
    });

    it('authenticates confidential clients with HTTP Basic and with client_secret_post', async () => {
      expect((await post(form({}), { 'content-type': FORM, authorization: basic('basic-service', CONFIDENTIAL_SECRET) })).status).toBe(200);
      expect((await post(form({ client_id: 'post-service', client_secret: CONFIDENTIAL_SECRET }))).status).toBe(200);
    });
  });

  describe('client errors', () => {
    it('invalid_client (401) for an unknown client, without WWW-Authenticate', async () => {
      const response = await post(form({ client_id: 'nobody' }));
      await expectOAuthError(response, 401, 'invalid_client');
      expect(response.headers.get('www-authenticate')).toBeNull();
    });

    it.each([
      ['a wrong Basic secret', basic('basic-service', 'wrong')],
      ['Basic for an unknown client', basic('nobody', 'x')],
      ['a malformed Basic header', 'Basic !!!not-base64'],
      ['Basic without a colon', `Basic ${Buffer.from('basic-service').toString('base64')}`],
    ])('invalid_client (401) with WWW-Authenticate: Basic for %s', async (_, authorization) => {
      const response = await post(form({}), { 'content-type': FORM, authorization });
      await expectOAuthError(response, 401, 'invalid_client');
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    });

    it.each([
      ['a confidential client without a secret', { client_id: 'basic-service' }],
      ['client_secret_post with a wrong secret', { client_id: 'post-service', client_secret: 'wrong' }],
      ['a basic client using client_secret_post', { client_id: 'basic-service', client_secret: CONFIDENTIAL_SECRET }],
      ['a public client sending a secret', { client_id: 'demo-cli', client_secret: 'anything' }],
    ])('invalid_client (401) for %s', async (_, params) => {
      await expectOAuthError(await post(form(params)), 401, 'invalid_client');
    });

    it('invalid_request for two authentication methods at once', async () => {
      const response = await post(form({ client_secret: CONFIDENTIAL_SECRET }), {
        'content-type': FORM,
        authorization: basic('basic-service', CONFIDENTIAL_SECRET),
      });
      expect(await expectOAuthError(response, 400, 'invalid_request')).toMatch(/one method/);
    });

    it.each([
      ['a client without the device grant', 'no-device-grant'],
      ['an inactive client', 'inactive-cli'],
    ])('unauthorized_client for %s', async (_, clientId) => {
      await expectOAuthError(await post(form({ client_id: clientId })), 400, 'unauthorized_client');
    });

    it('invalid_scope for a scope outside the registration, naming it', async () => {
      const description = await expectOAuthError(await post(form({ client_id: 'demo-cli', scope: 'openid admin' })), 400, 'invalid_scope');
      expect(description).toContain('admin');
    });

    it('invalid_target for a resource the client may not ask for', async () => {
      await expectOAuthError(await post(form({ client_id: 'demo-cli', resource: 'https://evil.example.com/' })), 400, 'invalid_target');
    });
  });

  describe('malformed requests: invalid_request naming the problem', () => {
    it.each([
      ['missing client_id', form({ scope: 'openid' }), /client_id is required/],
      ['empty client_id', 'client_id=', /client_id is required/],
      ['repeated client_id', form({ client_id: ['demo-cli', 'demo-cli'] }), /client_id must not be repeated/],
      ['repeated scope', form({ client_id: 'demo-cli', scope: ['openid', 'profile'] }), /scope must not be repeated/],
      ['a relative resource', form({ client_id: 'demo-cli', resource: '/api' }), /resource/],
      ['a resource with a fragment', form({ client_id: 'demo-cli', resource: 'https://mcp.example.com/#x' }), /resource/],
      ['an overlong parameter', form({ client_id: 'x'.repeat(3000) }), /client_id is too long/],
    ])('%s', async (_, body, message) => {
      expect(await expectOAuthError(await post(body), 400, 'invalid_request')).toMatch(message);
    });

    it.each([
      ['a JSON body', '{"client_id":"demo-cli"}', { 'content-type': 'application/json' }],
      ['no content type', 'client_id=demo-cli', {}],
      ['text/plain', 'client_id=demo-cli', { 'content-type': 'text/plain' }],
      ['a multipart body', '--x\r\n\r\n--x--', { 'content-type': 'multipart/form-data; boundary=x' }],
      ['a non-UTF-8 charset', 'client_id=demo-cli', { 'content-type': `${FORM}; charset=iso-8859-1` }],
      ['a quoted non-UTF-8 charset', 'client_id=demo-cli', { 'content-type': `${FORM}; charset="latin1"` }],
      ['a look-alike media type', 'client_id=demo-cli', { 'content-type': `${FORM}-extra` }],
    ])('rejects %s', async (_, body, headers) => {
      expect(await expectOAuthError(await post(body, headers as Record<string, string>), 400, 'invalid_request')).toMatch(
        /x-www-form-urlencoded|charset/,
      );
    });

    it('answers a body over 4 KiB with 413 and an RFC error body', async () => {
      const description = await expectOAuthError(await post(`client_id=demo-cli&pad=${'a'.repeat(5000)}`), 413, 'invalid_request');
      expect(description).toMatch(/exceeds 4096 bytes/);
    });

    it.each(['GET', 'PUT', 'DELETE', 'PATCH'])('answers %s with 405, Allow: POST and an RFC error body', async (method) => {
      const response = await post(method === 'GET' ? undefined : 'client_id=demo-cli', { 'content-type': FORM }, method);
      await expectOAuthError(response, 405, 'invalid_request');
      expect(response.headers.get('allow')).toBe('POST');
    });

    it.each([
      ['invalid percent-encoding', 'client_id=%zz&scope=%E0%A4%A'],
      ['binary garbage', '\u0000\u0001\uffff=\ud800'],
      ['qs-style nesting', 'client_id[a]=b&client_id[]=c'],
      ['only separators', '&&&==&'],
    ])('never answers %s with a 500', async (_, body) => {
      const response = await post(body);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect((await response.json()).error).toMatch(/^(invalid_request|invalid_client)$/);
    });
  });

  it('serves the OpenAPI document and the Redoc page', async () => {
    const document = await (await fetch(`${server.url}/openapi.json`)).json();
    expect(document.paths['/oauth/device/authorize'].post.operationId).toBe('deviceAuthorization');
    const docs = await fetch(`${server.url}/docs`);
    expect(docs.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await docs.text()).toContain('devicegate');
  });

  it('answers unknown paths with a JSON 404', async () => {
    const response = await fetch(`${server.url}/nowhere`);
    await expectOAuthError(response, 404, 'invalid_request');
  });
});

describe('POST /oauth/device/authorize while Redis is down', () => {
  it('answers 503 temporarily_unavailable fast, and recovers', async () => {
    const redis = await startTestRedis();
    const server = await startTestServer('redis', redis);
    const post = () =>
      fetch(`${server.url}/oauth/device/authorize`, { method: 'POST', headers: { 'content-type': FORM }, body: 'client_id=demo-cli' });
    try {
      await redis.stop();
      const started = Date.now();
      const response = await post();
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(response.status).toBe(503);
      // The flood limiter (same Redis) is the first store call now: whichever fails, the answer is a 503.
      expect(await response.json()).toEqual({
        error: 'temporarily_unavailable',
        error_description: expect.stringMatching(/^the (grant store|rate limiter) is unavailable; retry shortly$/),
      });
      await redis.start();
      await expect.poll(async () => (await post()).status, { timeout: 5_000 }).toBe(200);
    } finally {
      await server.close();
      await redis.close();
    }
  });
});
