import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceGateClient, OAuthResponseError } from '../../src/sdk/index.js';
import { CONFIDENTIAL_SECRET, startTestServer, type TestServer } from '../support/server.js';

describe('typed SDK against the running server', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('memory');
  });
  afterAll(() => server.close());

  it('deviceAuthorization() sends a form body, repeated resources included, and returns typed data', async () => {
    const sdk = new DeviceGateClient({ baseUrl: server.url });
    const result = await sdk.deviceAuthorization({
      client_id: 'demo-cli',
      scope: 'openid',
      resource: ['https://mcp.example.com/', 'https://other.example.com/api'],
    });
    expect(result.interval).toBe(5);
    expect(result.expires_in).toBe(600);
    const grant = await server.stores.grants.findByUserCode(result.user_code.replace('-', ''));
    expect(grant?.resource).toEqual(['https://mcp.example.com/', 'https://other.example.com/api']);
  });

  it('authenticates a confidential client with HTTP Basic', async () => {
    const sdk = new DeviceGateClient({
      baseUrl: server.url,
      clientSecretBasic: { clientId: 'basic-service', clientSecret: CONFIDENTIAL_SECRET },
    });
    expect((await sdk.deviceAuthorization({})).device_code).toHaveLength(48); // <routing tag>.<43 random characters>
  });

  it('never follows a redirect (it would re-send the form to the Location)', async () => {
    const { createServer } = await import('node:http');
    let followed = false;
    const target = createServer((_, res) => {
      followed = true;
      res.end('{}');
    });
    const redirector = createServer((_, res) => {
      res.writeHead(307, { Location: `http://127.0.0.1:${(target.address() as { port: number }).port}/oauth/device/authorize` });
      res.end();
    });
    await Promise.all([target, redirector].map((srv) => new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))));
    const sdk = new DeviceGateClient({ baseUrl: `http://127.0.0.1:${(redirector.address() as { port: number }).port}` });
    await expect(sdk.deviceAuthorization({ client_id: 'demo-cli' })).rejects.toThrow();
    expect(followed).toBe(false);
    await Promise.all([target, redirector].map((srv) => new Promise((resolve) => srv.close(resolve))));
  });

  it('throws OAuthResponseError carrying the RFC error and status', async () => {
    const sdk = new DeviceGateClient({ baseUrl: server.url });
    const failure = await sdk.deviceAuthorization({ client_id: 'demo-cli', scope: 'admin' }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(OAuthResponseError);
    expect(failure).toMatchObject({ status: 400, error: 'invalid_scope' });
    const unknown = await sdk.deviceAuthorization({ client_id: 'nobody' }).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ status: 401, error: 'invalid_client' });
  });
});
