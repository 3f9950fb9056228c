import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { type StoreKind, startRealTimeTestServer } from '../support/server.js';

/**
 * The whole RFC 8628 flow with real third-party clients on the real clock, approval through the
 * repository (the verification pages do the same), and the token verified as a resource server
 * (an MCP server) would: against the JWKS URL, checking issuer, audience and typ.
 */
describe.each<StoreKind>(['memory', 'redis'])('device flow end to end (%s store)', (kind) => {
  let redis: TestRedis | undefined;
  let server: RunningServer;
  beforeAll(async () => {
    if (kind === 'redis') redis = await startTestRedis();
    server = await startRealTimeTestServer(kind, redis);
  });
  afterAll(async () => {
    await server.close();
    await redis?.close();
  });

  /** Approves as soon as the client has polled once (so the client sees authorization_pending first). */
  async function approveAfterFirstPoll(userCode: string, subject: string): Promise<void> {
    const normalised = userCode.replace('-', '');
    await expect
      .poll(async () => (await server.stores.grants.findByUserCode(normalised))?.lastPolledAt, { timeout: 10_000, interval: 50 })
      .not.toBeNull();
    expect(await server.stores.grants.decide(normalised, { kind: 'approve', subject }, Date.now())).toBe('approved');
  }

  async function verifyAsResourceServer(accessToken: string, audience: string) {
    const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
    return jwtVerify(accessToken, jwks, { issuer: server.url, audience, typ: 'at+jwt', algorithms: ['ES256'] });
  }

  it('openid-client: discovery, initiateDeviceAuthorization, pollDeviceAuthorizationGrant, refresh', async () => {
    const config = await client.discovery(new URL(server.url), 'fast-cli', undefined, client.None(), {
      algorithm: 'oauth2', // RFC 8414 metadata; devicegate is not an OpenID Provider
      execute: [client.allowInsecureRequests],
    });
    expect(config.serverMetadata().issuer).toBe(server.url);
    const parameters = new URLSearchParams({ scope: 'openid mcp:tools' });
    parameters.append('resource', 'https://mcp.example.com/');
    const codes = await client.initiateDeviceAuthorization(config, parameters);
    expect(codes.interval).toBe(1);

    const [tokens] = await Promise.all([
      client.pollDeviceAuthorizationGrant(config, codes),
      approveAfterFirstPoll(codes.user_code, 'alice'),
    ]);
    expect(tokens.token_type).toBe('bearer'); // openid-client normalises the case
    expect(tokens.scope).toBe('openid mcp:tools');
    expect(tokens.refresh_token).toBeDefined();

    const { payload, protectedHeader } = await verifyAsResourceServer(tokens.access_token, 'https://mcp.example.com/');
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: 'alice', client_id: 'fast-cli', scope: 'openid mcp:tools', aud: 'https://mcp.example.com/' });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, { scope: 'mcp:tools' });
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect((await verifyAsResourceServer(refreshed.access_token, 'https://mcp.example.com/')).payload.scope).toBe('mcp:tools');
    // Rotation: the first refresh token is spent.
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('openid-client surfaces access_denied when the person denies', async () => {
    const config = await client.discovery(new URL(server.url), 'fast-cli', undefined, client.None(), {
      algorithm: 'oauth2', // RFC 8414 metadata; devicegate is not an OpenID Provider
      execute: [client.allowInsecureRequests],
    });
    const codes = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    const denial = (async () => {
      const normalised = codes.user_code.replace('-', '');
      await expect.poll(async () => (await server.stores.grants.findByUserCode(normalised))?.lastPolledAt, { timeout: 10_000 }).not.toBeNull();
      await server.stores.grants.decide(normalised, { kind: 'deny' }, Date.now());
    })();
    await expect(client.pollDeviceAuthorizationGrant(config, codes)).rejects.toMatchObject({ error: 'access_denied' });
    await denial;
  });

  it('oauth4webapi with strict validation: device authorization, polling to tokens', async () => {
    const issuer = new URL(server.url);
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }),
    );
    const oauthClient: oauth.Client = { client_id: 'fast-cli' };
    const options = { [oauth.allowInsecureRequests]: true };
    const codes = await oauth.processDeviceAuthorizationResponse(
      as,
      oauthClient,
      await oauth.deviceAuthorizationRequest(as, oauthClient, oauth.None(), { scope: 'openid' }, options),
    );

    const poll = async () =>
      oauth.processDeviceCodeResponse(
        as,
        oauthClient,
        await oauth.deviceCodeGrantRequest(as, oauthClient, oauth.None(), codes.device_code, options),
      );
    const pending = await poll().catch((e: unknown) => e);
    expect(pending).toMatchObject({ error: 'authorization_pending', status: 400 });
    await server.stores.grants.decide(codes.user_code.replace('-', ''), { kind: 'approve', subject: 'bob' }, Date.now());
    await new Promise((resolve) => setTimeout(resolve, codes.interval! * 1000)); // honour the interval
    const tokens = await poll();
    expect(tokens.token_type).toBe('bearer');
    const { payload } = await verifyAsResourceServer(tokens.access_token, server.url); // no resource: the issuer is the audience
    expect(decodeProtectedHeader(tokens.access_token).kid).toBeDefined();
    expect(payload).toMatchObject({ sub: 'bob', client_id: 'fast-cli', scope: 'openid' });
  });
});
