import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceAuthorizationResponse } from '../../src/contracts/device-authorization.js';
import { endpoints } from '../../src/app/endpoints.js';
import { appRouter, createCaller, oauthErrorsByOperation } from '../../src/openapi/router.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** The router is built from the same endpoint definitions the HTTP layer runs. */
describe('tRPC router (contract registry and in-process API)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('memory');
  });
  afterAll(() => server.close());

  const caller = () => createCaller({ services: server.services, basic: undefined, requester: { ip: '198.51.100.1', userAgent: 'trpc-test' } });

  it('has one procedure per endpoint definition, with its path and method', () => {
    expect(Object.keys(appRouter._def.procedures).sort()).toEqual(Object.keys(endpoints).sort());
    for (const [name, endpoint] of Object.entries(endpoints)) {
      const meta = (appRouter._def.procedures as Record<string, { _def: { meta?: { openapi?: { path: string; method: string } } } }>)[name]!._def.meta;
      expect(meta?.openapi).toMatchObject({ path: endpoint.openapi.path, method: endpoint.openapi.method });
    }
    expect(Object.keys(oauthErrorsByOperation).sort()).toEqual(['deviceAuthorization', 'introspect', 'revoke', 'token']);
  });

  it('runs the same use case in process, with contract validation on both sides', async () => {
    const result = await caller().deviceAuthorization({ client_id: 'demo-cli', scope: 'openid' });
    expect(DeviceAuthorizationResponse.parse(result)).toEqual(result);
    const grant = await server.stores.grants.findByUserCode(result.user_code.replace('-', ''));
    expect(grant?.requester).toEqual({ ip: '198.51.100.1', userAgent: 'trpc-test' });
  });

  it('rejects input that breaks the contract, and passes OAuth errors through as the cause', async () => {
    const invalid = await caller()
      .deviceAuthorization({ client_id: ['a', 'b'] } as never)
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(TRPCError);
    expect(invalid).toMatchObject({ code: 'BAD_REQUEST' });
    const refused = await caller()
      .deviceAuthorization({ client_id: 'nobody' })
      .catch((e: unknown) => e);
    expect((refused as TRPCError).cause).toMatchObject({ error: 'invalid_client', status: 401 });
  });
});
