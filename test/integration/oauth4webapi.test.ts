import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

/** A third-party strict client (panva's oauth4webapi) drives the endpoint and validates the answers. */
describe('oauth4webapi device authorization against the running server', () => {
  let server: TestServer;
  let as: oauth.AuthorizationServer;
  beforeAll(async () => {
    server = await startTestServer('memory');
    as = { issuer: server.url, device_authorization_endpoint: `${server.url}/oauth/device/authorize` };
  });
  afterAll(() => server.close());

  const allowHttp = { [oauth.allowInsecureRequests]: true };

  it('accepts our response under strict validation', async () => {
    const client: oauth.Client = { client_id: 'demo-cli' };
    const parameters = new URLSearchParams({ scope: 'openid profile' });
    parameters.append('resource', 'https://mcp.example.com/');
    const response = await oauth.deviceAuthorizationRequest(as, client, oauth.None(), parameters, allowHttp);
    const result = await oauth.processDeviceAuthorizationResponse(as, client, response);
    expect(result.device_code).toHaveLength(48); // <routing tag>.<43 random characters> (README, "Redis keys")
    expect(result.user_code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    expect(result.verification_uri).toBe(`${server.url}/device`);
    expect(result.verification_uri_complete).toBe(`${server.url}/device?user_code=${result.user_code}`);
    expect(result.expires_in).toBe(600);
    expect(result.interval).toBe(5);
  });

  it('surfaces our RFC 6749 §5.2 errors as oauth4webapi ResponseBodyErrors', async () => {
    const client: oauth.Client = { client_id: 'demo-cli' };
    const response = await oauth.deviceAuthorizationRequest(as, client, oauth.None(), { scope: 'admin' }, allowHttp);
    const failure = await oauth.processDeviceAuthorizationResponse(as, client, response).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(oauth.ResponseBodyError);
    expect(failure).toMatchObject({ error: 'invalid_scope', status: 400 });
  });

  it('works with client_secret_basic as oauth4webapi encodes it', async () => {
    const client: oauth.Client = { client_id: 'basic-service' };
    const auth = oauth.ClientSecretBasic('correct horse battery staple');
    const response = await oauth.deviceAuthorizationRequest(as, client, auth, {}, allowHttp);
    expect((await oauth.processDeviceAuthorizationResponse(as, client, response)).interval).toBe(5);
  });
});
