import type { StoredLogin } from '../../src/cli/token-store.js';

/** A stored login for unit tests; the access token expires at 00:10 on 2026-01-01. */
export function sampleLogin(overrides: Partial<StoredLogin> = {}): StoredLogin {
  return {
    version: 1,
    issuer: 'https://auth.example.com',
    client_id: 'demo-cli',
    profile: 'default',
    endpoints: { token: 'https://auth.example.com/oauth/token', revocation: 'https://auth.example.com/oauth/revoke', jwks_uri: null },
    token_type: 'Bearer',
    access_token: 'access-1',
    expires_at: '2026-01-01T00:10:00.000Z',
    refresh_token: 'refresh-1',
    scope: 'openid',
    resource: [],
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}
