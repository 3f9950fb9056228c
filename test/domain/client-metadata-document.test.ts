import { describe, expect, it } from 'vitest';
import {
  assertClientIdUrl,
  ClientMetadataError,
  DEVICE_CODE_GRANT,
  isClientMetadataDocumentId,
  parseClientMetadataDocument,
} from '../../src/domain/client-metadata-document.js';

const URL_ID = 'https://app.example.com/oauth/client.json';
const base = {
  client_id: URL_ID,
  client_name: 'Example',
  redirect_uris: ['http://127.0.0.1/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  token_endpoint_auth_method: 'none',
};
const reasonOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (error instanceof ClientMetadataError) return error.reason;
    throw error;
  }
  return 'accepted';
};

describe('client metadata document rules', () => {
  it('accepts a browser client document', () => {
    expect(parseClientMetadataDocument(URL_ID, base)).toEqual({
      clientId: URL_ID,
      host: 'app.example.com',
      clientName: 'Example',
      redirectUris: ['http://127.0.0.1/callback'],
      grantTypes: ['authorization_code', 'refresh_token'],
      tokenEndpointAuthMethod: 'none',
    });
  });

  it('defaults grant_types to authorization_code and the auth method to none; ignores unknown fields and grants', () => {
    const { grant_types: _, token_endpoint_auth_method: __, ...rest } = base;
    const client = parseClientMetadataDocument(URL_ID, { ...rest, logo_uri: 'https://app.example.com/logo.png', software_id: 'x' });
    expect(client.grantTypes).toEqual(['authorization_code']);
    expect(parseClientMetadataDocument(URL_ID, { ...base, grant_types: ['authorization_code', 'implicit', 'password'] }).grantTypes).toEqual(['authorization_code']);
  });

  it('accepts a device-only document without redirect_uris', () => {
    const { redirect_uris: _, ...rest } = base;
    const client = parseClientMetadataDocument(URL_ID, { ...rest, grant_types: [DEVICE_CODE_GRANT, 'refresh_token'] });
    expect(client).toMatchObject({ redirectUris: [], grantTypes: [DEVICE_CODE_GRANT, 'refresh_token'] });
  });

  it.each<[string, unknown, string]>([
    ['client_id differs', { ...base, client_id: 'https://app.example.com/oauth/other.json' }, 'client_id_mismatch'],
    ['client_id differs by a trailing slash', { ...base, client_id: `${URL_ID}/` }, 'client_id_mismatch'],
    ['client_id missing', { ...base, client_id: undefined }, 'invalid_document'],
    ['authorization_code without redirect_uris', { ...base, redirect_uris: undefined }, 'invalid_document'],
    ['authorization_code with empty redirect_uris', { ...base, redirect_uris: [] }, 'invalid_document'],
    ['no usable grant', { ...base, grant_types: ['refresh_token'] }, 'invalid_document'],
    ['client_secret', { ...base, client_secret: 'x' }, 'invalid_document'],
    ['client_secret_post', { ...base, token_endpoint_auth_method: 'client_secret_post' }, 'invalid_document'],
    ['private_key_jwt (not supported)', { ...base, token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_document'],
    ['redirect with fragment', { ...base, redirect_uris: ['https://app.example.com/cb#x'] }, 'invalid_document'],
    ['relative redirect', { ...base, redirect_uris: ['/callback'] }, 'invalid_document'],
    ['http redirect to a public host', { ...base, redirect_uris: ['http://app.example.com/cb'] }, 'invalid_document'],
    ['javascript redirect', { ...base, redirect_uris: ['javascript:alert(1)'] }, 'invalid_document'],
    ['too many redirects', { ...base, redirect_uris: Array.from({ length: 21 }, (_, i) => `https://a.example.com/${i}`) }, 'invalid_document'],
    ['code grant without response type code', { ...base, response_types: ['token'] }, 'invalid_document'],
    ['name too long', { ...base, client_name: 'x'.repeat(201) }, 'invalid_document'],
    ['name not a string', { ...base, client_name: 7 }, 'invalid_document'],
    ['not an object', 'hello', 'invalid_document'],
  ])('refuses: %s', (_, document, reason) => {
    expect(reasonOf(() => parseClientMetadataDocument(URL_ID, document))).toBe(reason);
  });

  it('accepts private-use scheme and https redirects (RFC 8252 §7.1)', () => {
    expect(parseClientMetadataDocument(URL_ID, { ...base, redirect_uris: ['com.example.app:/oauth2redirect', 'https://app.example.com/cb'] }).redirectUris).toHaveLength(2);
  });

  it('accepts only normalised https client-id URLs with a path', () => {
    expect(assertClientIdUrl(URL_ID).host).toBe('app.example.com');
    expect(reasonOf(() => assertClientIdUrl('https://app.example.com/c?x=1'))).toBe('accepted');
    for (const bad of [
      'http://app.example.com/c.json',
      'https://app.example.com',
      'https://app.example.com/',
      'https://app.example.com/a/./c.json',
      'https://app.example.com/a/../c.json',
      'https://APP.example.com/c.json',
      'https://app.example.com:443/c.json',
      'https://user@app.example.com/c.json',
      'https://app.example.com/c.json#x',
      'not a url',
      `https://app.example.com/${'x'.repeat(2_000)}`,
    ]) {
      expect(reasonOf(() => assertClientIdUrl(bad)), bad).toBe('invalid_client_id_url');
    }
    expect(isClientMetadataDocumentId(URL_ID)).toBe(true);
    expect(isClientMetadataDocumentId('demo-cli')).toBe(false);
  });

  it('marks network-ish failures transient', () => {
    expect(new ClientMetadataError('timeout', 'x', URL_ID).transient).toBe(true);
    expect(new ClientMetadataError('client_id_mismatch', 'x', URL_ID).transient).toBe(false);
  });
});
