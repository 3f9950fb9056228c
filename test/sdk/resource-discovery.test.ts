import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chooseIssuer,
  DiscoveryError,
  discoverProtectedResource,
  parseBearerChallenge,
  protectedResourceMetadataUrls,
  resourceCovers,
} from '../../src/sdk/index.js';
import { fakeServer, json } from '../cli/support.js';

describe('RFC 9728 protected resource discovery', () => {
  it('parses the Bearer challenge among others, quoted values with escapes and commas, names case-insensitively', () => {
    expect(parseBearerChallenge('Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"')).toEqual({
      resource_metadata: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
    });
    expect(
      parseBearerChallenge('Basic realm="x", bearer Error="invalid_token", scope="mcp:tools openid", error_description="a \\"quoted\\", value", DPoP algs="ES256"'),
    ).toEqual({ error: 'invalid_token', scope: 'mcp:tools openid', error_description: 'a "quoted", value' });
    expect(parseBearerChallenge('Basic realm="x"')).toBeNull();
    expect(parseBearerChallenge(null)).toBeNull();
    expect(parseBearerChallenge('Bearer')).toEqual({});
  });

  it('well-known URLs: inserted before the path (§3.1), then the root', () => {
    expect(protectedResourceMetadataUrls('https://mcp.example.com/v1/mcp/')).toEqual([
      'https://mcp.example.com/.well-known/oauth-protected-resource/v1/mcp',
      'https://mcp.example.com/.well-known/oauth-protected-resource',
    ]);
    expect(protectedResourceMetadataUrls('https://mcp.example.com')).toEqual(['https://mcp.example.com/.well-known/oauth-protected-resource']);
  });

  it('a resource covers the same URL or a path below it on the same origin, nothing else', () => {
    expect(resourceCovers('https://mcp.example.com/mcp', 'https://mcp.example.com/mcp')).toBe(true);
    expect(resourceCovers('https://mcp.example.com/', 'https://mcp.example.com/mcp')).toBe(true);
    expect(resourceCovers('https://mcp.example.com/mc', 'https://mcp.example.com/mcp')).toBe(false);
    expect(resourceCovers('https://evil.example.com/mcp', 'https://mcp.example.com/mcp')).toBe(false);
    expect(resourceCovers('http://mcp.example.com/mcp', 'https://mcp.example.com/mcp')).toBe(false);
  });

  it('chooses the wanted issuer only when the resource lists it', () => {
    const metadata = { resource: 'https://mcp.example.com/', authorization_servers: ['https://a.example.com', 'https://b.example.com'] };
    expect(chooseIssuer(metadata)).toBe('https://a.example.com');
    expect(chooseIssuer(metadata, 'https://b.example.com')).toBe('https://b.example.com');
    expect(() => chooseIssuer(metadata, 'https://c.example.com')).toThrow(DiscoveryError);
  });

  describe('against a server', () => {
    let server: Awaited<ReturnType<typeof fakeServer>>;
    let answer: (base: string) => { status: number; body: unknown; path: string };
    beforeAll(async () => {
      server = await fakeServer((base) => (request, response) => {
        const { status, body, path } = answer(base);
        if (request.path === path) json(response, status, body);
        else json(response, 404, {});
      });
    });
    afterAll(() => server.close());

    it('follows resource_metadata from the challenge first', async () => {
      answer = (base) => ({ path: '/custom-prm', status: 200, body: { resource: `${base}/mcp`, authorization_servers: ['https://as.example.com'] } });
      const found = await discoverProtectedResource(`${server.base}/mcp`, { wwwAuthenticate: `Bearer resource_metadata="${server.base}/custom-prm"` });
      expect(found).toMatchObject({ metadataUrl: `${server.base}/custom-prm`, metadata: { authorization_servers: ['https://as.example.com'] } });
    });

    it('falls back to the root well-known URL; refuses metadata for another resource, without servers, or absent', async () => {
      answer = (base) => ({ path: '/.well-known/oauth-protected-resource', status: 200, body: { resource: `${base}/`, authorization_servers: ['https://as.example.com'] } });
      expect((await discoverProtectedResource(`${server.base}/mcp`)).metadata.resource).toBe(`${server.base}/`);

      answer = () => ({ path: '/.well-known/oauth-protected-resource/mcp', status: 200, body: { resource: 'https://evil.example.com/mcp', authorization_servers: ['https://as.example.com'] } });
      await expect(discoverProtectedResource(`${server.base}/mcp`)).rejects.toMatchObject({ reason: 'issuer_mismatch' });

      answer = (base) => ({ path: '/.well-known/oauth-protected-resource/mcp', status: 200, body: { resource: `${base}/mcp`, authorization_servers: [] } });
      await expect(discoverProtectedResource(`${server.base}/mcp`)).rejects.toMatchObject({ reason: 'invalid_metadata' });

      answer = () => ({ path: '/nowhere', status: 200, body: {} });
      await expect(discoverProtectedResource(`${server.base}/mcp`)).rejects.toMatchObject({ reason: 'not_found', status: 404 });

      answer = () => ({ path: '/.well-known/oauth-protected-resource/mcp', status: 500, body: {} });
      await expect(discoverProtectedResource(`${server.base}/mcp`)).rejects.toMatchObject({ reason: 'http_error', status: 500 });
    });
  });
});
