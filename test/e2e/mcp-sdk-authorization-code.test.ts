import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { auth, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { decodeJwt } from 'jose';
import type { Browser } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigFile } from '../../src/config.js';
import { systemClock } from '../../src/domain/clock.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { launchChromium } from '../support/browser.js';
import { freePort } from '../support/redis-server.js';
import { TEST_USERS, testConfig, testConfigFile, testStores } from '../support/server.js';
import { type ProtectedMcpServer, startProtectedMcpServer } from '../resource-server/mcp-server.js';

/**
 * The stock MCP TypeScript SDK client, end to end, as an IDE would run it: its own discovery (RFC 9728
 * protected-resource metadata → RFC 8414 authorization server metadata), PKCE, `resource`, the
 * authorization request in a real headless Chromium (JavaScript off: the pages need none) where a
 * person signs in and approves, the code caught on a loopback callback (RFC 8252 §7.3, any port),
 * and the token exchange. The token works at its MCP server and is refused by another one.
 */

/** A loopback redirect receiver: resolves with the query of the first /callback request. */
async function startCallbackServer(): Promise<{ url: string; received: Promise<URLSearchParams>; close(): Promise<void> }> {
  let deliver!: (params: URLSearchParams) => void;
  const received = new Promise<URLSearchParams>((resolve) => {
    deliver = resolve;
  });
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'text/plain' }).end('You can close this window.');
    deliver(url.searchParams);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/callback`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** An OAuthClientProvider for a pre-registered public client whose "browser" is Playwright's Chromium. */
class ChromiumProvider implements OAuthClientProvider {
  private storedTokens: OAuthTokens | undefined;
  private verifier = '';
  readonly expectedState = randomBytes(16).toString('base64url');
  /** The browser's run through sign-in and Approve, started by redirectToAuthorization. */
  browsing: Promise<void> | undefined;
  authorizationUrl: URL | undefined;

  constructor(
    private readonly browser: Browser,
    private readonly callbackUrl: string,
    private readonly clientId: string,
  ) {}

  get redirectUrl(): string {
    return this.callbackUrl;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'SDK test host',
      redirect_uris: [this.callbackUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state(): string {
    return this.expectedState;
  }
  clientInformation(): OAuthClientInformationMixed {
    return { client_id: this.clientId };
  }
  tokens(): OAuthTokens | undefined {
    return this.storedTokens;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.storedTokens = tokens;
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    return this.verifier;
  }
  redirectToAuthorization(authorizationUrl: URL): void {
    this.authorizationUrl = authorizationUrl;
    this.browsing = approveInBrowser(this.browser, authorizationUrl, this.callbackUrl);
  }
}

/** What the person does: sign in, read the confirmation page, Approve; the browser lands on the callback. */
async function approveInBrowser(browser: Browser, authorizationUrl: URL, callbackUrl: string): Promise<void> {
  const context = await browser.newContext({ javaScriptEnabled: false });
  try {
    const page = await context.newPage();
    await page.goto(authorizationUrl.href);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(TEST_USERS.alice);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: /Allow SDK IDE to access your account/ }).waitFor();
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL((url) => url.href.startsWith(callbackUrl), { timeout: 30_000 });
  } finally {
    await context.close();
  }
}

describe('the MCP TypeScript SDK client, authorization code + PKCE through a real browser', () => {
  let devicegate: RunningServer;
  let mcp: ProtectedMcpServer;
  let otherMcp: ProtectedMcpServer;
  let browser: Browser;

  beforeAll(async () => {
    const [issuerPort, mcpPort, otherPort] = [await freePort(), await freePort(), await freePort()];
    const mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;
    const otherUrl = `http://127.0.0.1:${otherPort}/mcp`;
    const base = await testConfigFile();
    const file = parseConfigFile(
      JSON.stringify({
        ...base,
        resources: [mcpUrl, otherUrl, 'https://mcp.example.com/', 'https://other.example.com/api'],
        clients: [
          ...base.clients,
          {
            client_id: 'sdk-ide',
            client_name: 'SDK IDE',
            grant_types: ['authorization_code', 'refresh_token'],
            scope: 'openid mcp:tools',
            // Registered without a port: the SDK's callback listens on whichever port it got.
            redirect_uris: ['http://127.0.0.1/callback'],
            resources: [mcpUrl],
          },
        ],
      }),
    );
    const config = await testConfig({ port: issuerPort, file });
    devicegate = await startServer(config, { clock: systemClock, stores: await testStores('memory', systemClock), logger: pino({ level: 'silent' }) });
    mcp = await startProtectedMcpServer({ issuer: devicegate.url, port: mcpPort });
    otherMcp = await startProtectedMcpServer({ issuer: devicegate.url, port: otherPort });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await mcp?.close();
    await otherMcp?.close();
    await devicegate?.close();
  });

  it('discovers, authorizes in the browser, exchanges the code and calls a tool; another MCP server refuses the token', async () => {
    const callback = await startCallbackServer();
    try {
      const provider = new ChromiumProvider(browser, callback.url, 'sdk-ide');
      const serverUrl = new URL(mcp.url);

      // 1. The SDK's own discovery and authorization request: it must accept our metadata (issue 11's
      //    ZodError was here) and send PKCE S256 and the resource.
      expect(await auth(provider, { serverUrl })).toBe('REDIRECT');
      const request = provider.authorizationUrl!;
      expect(`${request.origin}${request.pathname}`).toBe(`${devicegate.url}/oauth/authorize`);
      expect(request.searchParams.get('code_challenge_method')).toBe('S256');
      expect(request.searchParams.get('resource')).toBe(mcp.url);

      // 2. The person, in Chromium; the browser comes back to the loopback callback.
      await provider.browsing;
      const answer = await callback.received;
      expect(answer.get('state')).toBe(provider.expectedState);
      expect(answer.get('iss')).toBe(devicegate.url); // RFC 9207
      const code = answer.get('code');
      expect(code).toBeTruthy();

      // 3. The SDK exchanges the code (with its verifier, redirect_uri and resource).
      expect(await auth(provider, { serverUrl, authorizationCode: code! })).toBe('AUTHORIZED');
      const tokens = provider.tokens()!;
      expect(tokens.refresh_token).toBeTruthy();
      const claims = decodeJwt(tokens.access_token);
      expect(claims).toMatchObject({ iss: devicegate.url, sub: 'alice', client_id: 'sdk-ide', aud: mcp.url });

      // 4. A tool call through the SDK's transport with the provider's token.
      const client = new Client({ name: 'sdk-ide', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(serverUrl, { authProvider: provider }));
      try {
        const result = (await client.callTool({ name: 'whoami', arguments: {} })) as { content: { type: string; text: string }[] };
        expect(JSON.parse(result.content[0]!.text)).toMatchObject({ subject: 'alice', clientId: 'sdk-ide' });
      } finally {
        await client.close();
      }

      // 5. Audience-bound (RFC 8707): another MCP server of the same issuer refuses it.
      const elsewhere = await fetch(otherMcp.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${tokens.access_token}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
      });
      expect(elsewhere.status).toBe(401);
      expect(elsewhere.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    } finally {
      await callback.close();
    }
  }, 90_000);
});
