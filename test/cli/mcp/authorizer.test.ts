import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError, ExitCode } from '../../../src/cli/exit-codes.js';
import { McpAuthorizer } from '../../../src/cli/mcp/authorizer.js';
import { sampleLogin } from '../fixtures.js';
import { fakeServer, json, testContext } from '../support.js';

/**
 * The authorizer in-process, against fake servers: an MCP server's RFC 9728 metadata and another
 * vendor's authorization server. Which stored login it picks, and what it asks a new login for.
 */
describe('McpAuthorizer', () => {
  let as: Awaited<ReturnType<typeof fakeServer>>;
  let rs: Awaited<ReturnType<typeof fakeServer>>;
  const deviceRequests: URLSearchParams[] = [];
  beforeAll(async () => {
    as = await fakeServer((base) => (request, response) => {
      if (request.path === '/.well-known/oauth-authorization-server') {
        json(response, 200, { issuer: base, token_endpoint: `${base}/token`, device_authorization_endpoint: `${base}/device_authorization` });
      } else if (request.path === '/device_authorization') {
        deviceRequests.push(request.form);
        json(response, 200, { device_code: 'dc', user_code: 'ABCD-EFGH', verification_uri: `${base}/device`, expires_in: 60, interval: 1 });
      } else json(response, 404, { error: 'not_found' });
    });
    rs = await fakeServer((base) => (request, response) => {
      if (request.path === '/.well-known/oauth-protected-resource/mcp') json(response, 200, { resource: `${base}/mcp`, authorization_servers: [as.base] });
      else json(response, 404, {});
    });
  });
  afterAll(async () => {
    await as.close();
    await rs.close();
  });

  const challenge = () => `Bearer resource_metadata="${rs.base}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`;

  it("uses a stored login for the issuer, client and resource, under whatever profile, never another resource's", async () => {
    const ctx = testContext();
    const future = new Date(ctx.clock.now() + 3_600_000).toISOString();
    const endpoints = { token: `${as.base}/token`, revocation: null, jwks_uri: null };
    await ctx.store.write(sampleLogin({ issuer: as.base, client_id: 'cli', profile: 'default', resource: ['https://other.example.com/'], access_token: 'other', expires_at: future, endpoints }));
    await ctx.store.write(sampleLogin({ issuer: as.base, client_id: 'cli', profile: 'work', resource: [`${rs.base}/mcp`], access_token: 'mine', expires_at: future, endpoints }));
    const authorizer = new McpAuthorizer(ctx, { serverUrl: `${rs.base}/mcp`, clientId: 'cli', allowHttp: false }, () => {
      throw new Error('no device flow expected');
    });
    expect(await authorizer.accessToken()).toBeNull(); // before the first 401 the issuer is unknown
    await authorizer.unauthorized(challenge(), null);
    expect(await authorizer.accessToken()).toBe('mine');
    expect(authorizer.login?.profile).toBe('work');
  });

  it('without one: a device flow for the resource named by the metadata and the scope named by the challenge; a sink that stops it ends it with its reason', async () => {
    const ctx = testContext();
    const shown: string[] = [];
    const authorizer = new McpAuthorizer(ctx, { serverUrl: `${rs.base}/mcp`, clientId: 'cli', allowHttp: false }, (abort) => ({
      codes(codes) {
        shown.push(codes.user_code);
        abort(new CliError(ExitCode.denied, 'elicitation_declined', 'declined in the host'));
      },
    }));
    await expect(authorizer.unauthorized(challenge(), null)).rejects.toMatchObject({ code: 'elicitation_declined' });
    expect(shown).toEqual(['ABCD-EFGH']);
    expect(deviceRequests.at(-1)?.getAll('resource')).toEqual([`${rs.base}/mcp`]);
    expect(deviceRequests.at(-1)?.get('scope')).toBe('mcp:tools');
    expect(deviceRequests.at(-1)?.get('client_id')).toBe('cli');
    expect(await ctx.store.list()).toEqual([]);
  });

  it('an issuer the resource does not list is refused before anything is sent', async () => {
    const ctx = testContext();
    const before = deviceRequests.length;
    const authorizer = new McpAuthorizer(ctx, { serverUrl: `${rs.base}/mcp`, clientId: 'cli', issuer: 'http://127.0.0.1:1', allowHttp: false }, () => ({ codes() {} }));
    await expect(authorizer.unauthorized(challenge(), null)).rejects.toMatchObject({ code: 'issuer_mismatch', exitCode: ExitCode.network });
    expect(deviceRequests.length).toBe(before);
  });
});
