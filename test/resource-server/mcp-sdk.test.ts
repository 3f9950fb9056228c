import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverOAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt, SignJWT } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { ManualClock } from '../../src/domain/clock.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { loadSigningKeys } from '../../src/tokens/signing-keys.js';
import { freePort } from '../support/redis-server.js';
import { DEVICE_GRANT, form, testConfigFile, testStores } from '../support/server.js';
import { type ProtectedMcpServer, startProtectedMcpServer } from './mcp-server.js';

/**
 * Real devicegate tokens (device grant, approved, redeemed) at two stock MCP servers protected by
 * `requireBearerAuth(mcpBearerAuthOptions(createResourceServer(…)))`.
 */
let devicegate: RunningServer;
let clock: ManualClock;
let dataDir: string;
let mcp: ProtectedMcpServer;
let otherMcp: ProtectedMcpServer;

beforeAll(async () => {
  const [issuerPort, mcpPort, otherPort] = [await freePort(), await freePort(), await freePort()];
  const mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;
  const otherUrl = `http://127.0.0.1:${otherPort}/mcp`;
  const file = await testConfigFile();
  const demo = file.clients.find((client) => client.client_id === 'demo-cli')!;
  file.clients.push({ ...demo, client_id: 'mcp-host', client_name: 'MCP host', scope: 'openid mcp:tools', resources: [mcpUrl, otherUrl] });
  clock = new ManualClock(Date.now());
  dataDir = mkdtempSync(join(tmpdir(), 'devicegate-data-'));
  const config: Config = {
    port: issuerPort,
    host: '127.0.0.1',
    issuer: `http://127.0.0.1:${issuerPort}`,
    redisUrl: undefined,
    configPath: '(test)',
    dataDir,
    logLevel: 'silent',
    trustProxy: false,
    file,
  };
  devicegate = await startServer(config, { clock, stores: await testStores('memory', clock), logger: pino({ level: 'silent' }) });
  mcp = await startProtectedMcpServer({ issuer: devicegate.url, port: mcpPort });
  otherMcp = await startProtectedMcpServer({ issuer: devicegate.url, port: otherPort });
});
afterAll(async () => {
  await mcp?.close();
  await otherMcp?.close();
  await devicegate?.close();
});

/** The device grant end to end over HTTP (approval straight in the store): an access token for `resource`. */
async function issueToken(resource: string, scope = 'openid mcp:tools'): Promise<string> {
  const post = (path: string, params: Record<string, string>) =>
    fetch(`${devicegate.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form(params) });
  const authorization = (await (await post('/oauth/device/authorize', { client_id: 'mcp-host', scope, resource })).json()) as {
    device_code: string;
    user_code: string;
  };
  expect(await devicegate.stores.grants.decide(authorization.user_code.replace('-', ''), { kind: 'approve', subject: 'alice' }, clock.now())).toBe('approved');
  const response = await post('/oauth/token', { grant_type: DEVICE_GRANT, device_code: authorization.device_code, client_id: 'mcp-host' });
  const body = (await response.json()) as { access_token: string };
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body.access_token;
}

/** A raw MCP `initialize` POST, to see the status and challenge the SDK client would get. */
function initialize(url: string, token?: string): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
}

const metadataUrlOf = (server: ProtectedMcpServer) => `${new URL(server.url).origin}/.well-known/oauth-protected-resource/mcp`;

describe('a stock MCP server protected by the helper, with real devicegate tokens', () => {
  it('serves the token at its MCP server: the SDK client connects and a tool sees who is calling', async () => {
    const token = await issueToken(mcp.url);
    const client = new Client({ name: 'test-client', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      const result = await client.callTool({ name: 'whoami' });
      const [content] = result.content as { type: string; text: string }[];
      expect(JSON.parse(content!.text)).toEqual({ subject: 'alice', clientId: 'mcp-host', scopes: ['openid', 'mcp:tools'] });
    } finally {
      await client.close();
    }
  });

  it('refuses the same token at another MCP server with 401 invalid_token and that server`s resource_metadata', async () => {
    const token = await issueToken(mcp.url);
    const response = await initialize(otherMcp.url, token);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_token' });
    const challenge = response.headers.get('www-authenticate')!;
    expect(challenge).toMatch(/^Bearer error="invalid_token"/);
    expect(challenge).toContain(`resource_metadata="${metadataUrlOf(otherMcp)}"`);
    // …and the SDK client fails to connect.
    const client = new Client({ name: 'test-client', version: '1.0.0' });
    await expect(
      client.connect(new StreamableHTTPClientTransport(new URL(otherMcp.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } })),
    ).rejects.toThrow();
  });

  it('answers 403 insufficient_scope for a token without the required scope', async () => {
    const token = await issueToken(mcp.url, 'openid');
    const response = await initialize(mcp.url, token);
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: 'insufficient_scope' });
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope".*scope="mcp:tools".*resource_metadata="/);
  });

  it('answers 401 invalid_token for an expired token', async () => {
    const now = clock.now();
    clock.set(Date.now() - 3_600_000);
    let token: string;
    try {
      token = await issueToken(mcp.url);
    } finally {
      clock.set(now);
    }
    expect(decodeJwt(token).exp! * 1000).toBeLessThan(Date.now());
    const response = await initialize(mcp.url, token);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token", error_description="the token has expired"');
  });

  it('answers 401 invalid_token for a token signed with the issuer key but typed JWT instead of at+jwt', async () => {
    const genuine = await issueToken(mcp.url);
    const keys = await loadSigningKeys({ dataDir });
    const retyped = await new SignJWT(decodeJwt(genuine)).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: keys.signing.kid }).sign(keys.signing.privateKey);
    expect((await initialize(mcp.url, genuine)).status).toBe(200);
    const response = await initialize(mcp.url, retyped);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('typ must be at+jwt');
  });

  it('answers 401 with resource_metadata when there is no token, and the metadata leads to devicegate', async () => {
    const response = await initialize(mcp.url);
    expect(response.status).toBe(401);
    const challenge = response.headers.get('www-authenticate')!;
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(metadataUrl).toBe(metadataUrlOf(mcp));
    const metadata = (await (await fetch(metadataUrl!)).json()) as { resource: string; authorization_servers: string[] };
    expect(metadata).toEqual({
      resource: mcp.url,
      authorization_servers: [devicegate.url],
      bearer_methods_supported: ['header'],
      scopes_supported: ['mcp:tools'],
      resource_name: 'Test MCP server',
    });
    const issuerMetadata = (await (await fetch(`${metadata.authorization_servers[0]}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
    expect(issuerMetadata.issuer).toBe(devicegate.url);
  });

  it('serves metadata the SDK client`s own RFC 9728 discovery accepts', async () => {
    const metadata = await discoverOAuthProtectedResourceMetadata(mcp.url);
    expect(metadata.resource).toBe(mcp.url);
    expect(metadata.authorization_servers).toEqual([devicegate.url]);
  });
});
