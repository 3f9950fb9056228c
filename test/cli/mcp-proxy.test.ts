import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredLogin } from '../../src/cli/token-store.js';
import { parseConfigFile } from '../../src/config.js';
import { type ManualClock, systemClock } from '../../src/domain/clock.js';
import type { RunningServer } from '../../src/server.js';
import { decideInBrowser, launchChromium } from '../support/browser.js';
import { freePort } from '../support/redis-server.js';
import { type ProtectedMcpServer, startProtectedMcpServer } from '../support/protected-mcp-server.js';
import { basic, CONFIDENTIAL_SECRET, DEVICE_GRANT, form, startTestServer, TEST_USERS, testConfigFile } from '../support/server.js';
import { CODE_ON_STDERR, createHost, type Host } from './mcp-host.js';
import { childEnv, fakeServer, json, runCli } from './support.js';

/**
 * `devicegate mcp-proxy` end to end: the MCP SDK's Client as the host spawns the real command
 * (bin/devicegate.mjs) over stdio; the remote is an MCP server protected by devicegate tokens
 * (test/support/protected-mcp-server.ts); the devicegate test server runs on the real clock with
 * 60 s access tokens; the person approves in headless Chromium.
 */
describe('devicegate mcp-proxy', { timeout: 120_000 }, () => {
  let mcp: ProtectedMcpServer;
  let server: RunningServer;
  let browser: Browser;
  let home: string;
  let env: NodeJS.ProcessEnv;
  const hosts: Host[] = [];

  beforeAll(async () => {
    mcp = await startProtectedMcpServer();
    const base = await testConfigFile({ tokens: { access_token_ttl: 60, refresh_token_ttl: 86_400 } });
    const file = parseConfigFile(
      JSON.stringify({
        ...base,
        clients: [
          ...base.clients,
          {
            client_id: 'mcp-cli',
            client_name: 'MCP proxy',
            grant_types: [DEVICE_GRANT, 'refresh_token'],
            scope: 'openid mcp:tools',
            resources: [mcp.url],
            device_code: { expires_in: 120, interval: 1 },
          },
        ],
      }),
    );
    server = await startTestServer('memory', undefined, systemClock as ManualClock, file);
    mcp.setIssuer(server.url);
    browser = await launchChromium();
    home = mkdtempSync(join(tmpdir(), 'devicegate-mcp-proxy-'));
    env = childEnv(home);
  });
  afterAll(async () => {
    for (const host of hosts) await host.transport.close();
    await browser?.close();
    await server?.close();
    await mcp?.close();
  });

  const start = (args: string[], onElicit?: Parameters<typeof createHost>[2]) => {
    const host = createHost([mcp.url, '--client-id', 'mcp-cli', ...args], env, onElicit);
    hosts.push(host);
    return host;
  };
  /** The person reads the URI and the code from stderr, opens the page, types the code, signs in, approves. */
  const approveTyped = async (verificationUri: string, userCode: string) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(verificationUri);
      await page.getByLabel('Code').fill(userCode.toLowerCase().replace('-', ' '));
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill(TEST_USERS.alice);
      await page.getByRole('button', { name: 'Sign in' }).click();
      // The confirmation page shows the code again (RFC 8628 §5.4): the person checks it.
      await page.getByLabel('Code').getByText(userCode).waitFor();
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.getByRole('heading', { level: 1, name: 'Device connected' }).waitFor();
    } finally {
      await context.close();
    }
  };
  const approveFromStderr = async (host: Host, from = 0) => {
    const [, uri, code] = await host.transport.waitForStderr(CODE_ON_STDERR, from);
    await approveTyped(uri!, code!);
  };
  const whoami = async (host: Host) => {
    const result = await host.client.callTool({ name: 'whoami', arguments: {} });
    return (result.content as { type: string; text: string }[])[0]!.text;
  };
  const storedLogins = () =>
    (existsSync(join(home, 'tokens')) ? readdirSync(join(home, 'tokens')) : [])
      .filter((name) => name.endsWith('.json'))
      .map((name) => JSON.parse(readFileSync(join(home, 'tokens', name), 'utf8')) as StoredLogin);
  const storedFor = (profile: string) => storedLogins().find((login) => login.profile === profile)!;
  const expectOnlyJsonRpcOnStdout = (host: Host) => {
    expect(host.transport.stdoutLines.length).toBeGreaterThan(0);
    expect(host.transport.invalidStdoutLines()).toEqual([]);
  };
  const revoke = async (token: string, hint: 'access_token' | 'refresh_token') => {
    const response = await fetch(`${server.url}/oauth/revoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form({ token, token_type_hint: hint, client_id: 'mcp-cli' }),
    });
    expect(response.status).toBe(200);
  };

  it('first login: initialize waits while the code on stderr is approved in Chromium; then tools/list, a tool call as alice, a server-to-client notification and request', async () => {
    const host = start(['--min-validity', '5']);
    const connected = host.client.connect(host.transport);
    await approveFromStderr(host);
    await connected;
    expect(host.client.getServerVersion()).toMatchObject({ name: 'protected-test-server' });
    const { tools } = await host.client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['notify', 'roots', 'whoami']);
    expect(await whoami(host)).toBe('subject=alice client=mcp-cli');
    const roots = await host.client.callTool({ name: 'roots', arguments: {} });
    expect(roots.content).toEqual([{ type: 'text', text: 'file:///work/project' }]);
    expect((await host.client.callTool({ name: 'notify', arguments: {} })).content).toEqual([{ type: 'text', text: 'sent' }]);
    expect(host.logMessages).toEqual(['hello from the server']);
    // The first request went without a token (that is how the issuer is found), then with alice's.
    expect(mcp.rejected[0]).toBeNull();
    expect(host.transport.stderr).toMatch(/Logged in to .* as alice \(client mcp-cli\)/);
    const login = storedFor('default');
    expect(login).toMatchObject({ issuer: server.url, client_id: 'mcp-cli', resource: [mcp.url] });
    expect(mcp.acceptedTokens.at(-1)).toBe(login.access_token);
    expectOnlyJsonRpcOnStdout(host);
    await host.transport.close();
    expect(await host.transport.exited).toBe(0);

    // `devicegate status` lists the login the proxy stored, and `devicegate token` reuses it.
    const status = await runCli(['status', '--json'], { env });
    expect(JSON.parse(status.stdout).logins).toEqual([
      expect.objectContaining({ issuer: server.url, client_id: 'mcp-cli', profile: 'default', subject: 'alice', resource: [mcp.url] }),
    ]);
  });

  it('a second bridge reuses the stored login: no code, no device flow', async () => {
    const grantsBefore = mcp.rejected.length;
    const host = start(['--min-validity', '5']);
    await host.client.connect(host.transport);
    expect(await whoami(host)).toBe('subject=alice client=mcp-cli');
    expect(host.transport.stderr).not.toMatch(/enter the code/);
    expect(mcp.rejected.slice(grantsBefore)).toEqual([null]); // only the discovery round
    expectOnlyJsonRpcOnStdout(host);
  });

  it('two bridges and devicegate token refreshing the same login at once: each re-reads it under the lock, so no refresh token is presented twice', async () => {
    // --min-validity 59 with 60 s tokens: every request after the first second refreshes.
    const [first, second] = [start(['--min-validity', '59']), start(['--min-validity', '59'])];
    await Promise.all([first.client.connect(first.transport), second.client.connect(second.transport)]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (let round = 0; round < 3; round += 1) {
      const [a, b, token] = await Promise.all([whoami(first), whoami(second), runCli(['token', '--client-id', 'mcp-cli', '--profile', 'default', '--min-validity', '59'], { env })]);
      expect([a, b]).toEqual(['subject=alice client=mcp-cli', 'subject=alice client=mcp-cli']);
      expect(token.code).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    // Had any refresh token been replayed, the server would have revoked the whole login (RFC 9700 §4.14.2).
    const introspection = await fetch(`${server.url}/oauth/introspect`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic('basic-service', CONFIDENTIAL_SECRET) },
      body: form({ token: storedFor('default').refresh_token! }),
    });
    expect(await introspection.json()).toMatchObject({ active: true, sub: 'alice', client_id: 'mcp-cli' });
    for (const host of [first, second]) {
      expect(host.transport.stderr).not.toMatch(/enter the code/);
      expectOnlyJsonRpcOnStdout(host);
      await host.transport.close();
    }
  });

  it('an access token about to expire mid-session is refreshed without the host noticing; a 401 gets one refresh and one retry', async () => {
    const host = start(['--min-validity', '50']); // 60 s tokens: fresh for 10 s, then refreshed before use
    await host.client.connect(host.transport);
    expect(await whoami(host)).toBe('subject=alice client=mcp-cli');
    const before = storedFor('default');
    const staleAt = Date.parse(before.expires_at!) - 50_000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, staleAt - Date.now()) + 1000));
    expect(await whoami(host)).toBe('subject=alice client=mcp-cli');
    const refreshed = storedFor('default');
    expect(refreshed.access_token).not.toBe(before.access_token);
    expect(refreshed.refresh_token).not.toBe(before.refresh_token);
    expect(mcp.acceptedTokens.at(-1)).toBe(refreshed.access_token);

    // The server stops accepting the access token (revoked): 401 → refresh → the same request again.
    mcp.introspect = true;
    await revoke(refreshed.access_token, 'access_token');
    const rejectedBefore = mcp.rejected.length;
    expect(await whoami(host)).toBe('subject=alice client=mcp-cli');
    expect(mcp.rejected.slice(rejectedBefore)).toEqual([refreshed.access_token]);
    const after = storedFor('default');
    expect(after.access_token).not.toBe(refreshed.access_token);
    expect(mcp.acceptedTokens.at(-1)).toBe(after.access_token);
    expect(host.transport.stderr).not.toMatch(/enter the code/);
    expectOnlyJsonRpcOnStdout(host);
  });

  it('a revoked login leads to a new device flow in the same session, not a dead session', async () => {
    mcp.introspect = true;
    const host = start(['--min-validity', '5']);
    await host.client.connect(host.transport);
    expect(await whoami(host)).toBe('subject=alice client=mcp-cli');
    await revoke(storedFor('default').refresh_token!, 'refresh_token'); // the whole login, access tokens included
    const from = host.transport.stderr.length;
    const call = whoami(host);
    await approveFromStderr(host, from);
    expect(await call).toBe('subject=alice client=mcp-cli');
    expect(host.transport.stderr.slice(from)).toMatch(/refresh token was rejected.*signing in again/);
    expectOnlyJsonRpcOnStdout(host);
  });

  it('a host that declares elicitation.url gets the code as a URL-mode elicitation and approves through it', async () => {
    let approval: Promise<void> | undefined;
    const host = start(['--profile', 'elicit', '--min-validity', '5'], async (params) => {
      expect(params.mode).toBe('url');
      approval = decideInBrowser(browser, (params as { url: string }).url, 'Approve');
      return { action: 'accept' };
    });
    await host.client.connect(host.transport);
    await approval;
    expect(host.elicitations).toHaveLength(1);
    const [elicitation] = host.elicitations as { url: string; message: string; elicitationId: string }[];
    const [, , code] = CODE_ON_STDERR.exec(host.transport.stderr)!; // stderr has it too
    expect(elicitation!.url).toBe(`${server.url}/device?user_code=${code}`);
    expect(elicitation!.message).toContain(code);
    expect(await whoami(host)).toBe('subject=alice client=mcp-cli');
    expect(storedFor('elicit')).toMatchObject({ resource: [mcp.url] });
    expectOnlyJsonRpcOnStdout(host);
  });

  it('a host that declines the elicitation gets a clear JSON-RPC error and one line on stderr; nothing is stored', async () => {
    const host = start(['--profile', 'declined'], async () => ({ action: 'decline' }));
    const error = await host.client.connect(host.transport).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(-32001);
    expect((error as McpError).message).toMatch(/authorization failed: the sign-in was declined in the MCP host/);
    // stderr and stdout are separate pipes: the line may arrive just after the error.
    await host.transport.waitForStderr(/^devicegate mcp-proxy: .*declined.*\n/m);
    expect(host.transport.stderr.match(/^devicegate mcp-proxy: .*$/gm), host.transport.stderr).toHaveLength(1);
    expect(storedLogins().some((login) => login.profile === 'declined')).toBe(false);
    expectOnlyJsonRpcOnStdout(host);
  });

  it('failures are explicit: an unreachable MCP server, an issuer the server does not accept, no device endpoint', async () => {
    const closedPort = await freePort(); // nothing listens there
    const unreachable = createHost([`http://127.0.0.1:${closedPort}/mcp`, '--client-id', 'mcp-cli'], env);
    hosts.push(unreachable);
    await expect(unreachable.client.connect(unreachable.transport)).rejects.toMatchObject({ code: -32002, message: expect.stringMatching(/could not reach the MCP server/) });
    await unreachable.transport.waitForStderr(/could not reach the MCP server at .*: ECONNREFUSED.*\n/);
    expect(unreachable.transport.stderr.trim().split('\n')).toHaveLength(1);

    const mismatch = start(['--issuer', 'http://127.0.0.1:9']);
    await expect(mismatch.client.connect(mismatch.transport)).rejects.toMatchObject({
      code: -32001,
      message: expect.stringMatching(/accepts tokens from .*, not from http:\/\/127\.0\.0\.1:9/),
    });
    await mismatch.transport.waitForStderr(/issuer_mismatch|accepts tokens from .*\n/);
    expect(mismatch.transport.stderr.trim().split('\n')).toHaveLength(1);
    expectOnlyJsonRpcOnStdout(unreachable);
    expectOnlyJsonRpcOnStdout(mismatch);

    // Another vendor's authorization server without RFC 8628: its metadata names no device endpoint.
    const vendor = await fakeServer((base) => (request, response) => {
      if (request.path === '/.well-known/oauth-authorization-server') json(response, 200, { issuer: base, token_endpoint: `${base}/token` });
      else json(response, 404, { error: 'not_found' });
    });
    const other = await startProtectedMcpServer();
    other.setIssuer(vendor.base);
    try {
      const host = createHost([other.url, '--client-id', 'mcp-cli'], env);
      hosts.push(host);
      await expect(host.client.connect(host.transport)).rejects.toMatchObject({
        code: -32001,
        message: expect.stringMatching(/advertises no device_authorization_endpoint/),
      });
      await host.transport.waitForStderr(/device_authorization_endpoint.*\n/);
      expect(host.transport.stderr.trim().split('\n')).toHaveLength(1);
      expectOnlyJsonRpcOnStdout(host);
    } finally {
      await other.close();
      await vendor.close();
    }
  });

  it('a denied code: a JSON-RPC error naming access_denied, one line on stderr, nothing stored', async () => {
    const host = start(['--profile', 'denied']);
    const connected = host.client.connect(host.transport).then(
      () => undefined,
      (e: unknown) => e,
    );
    const [, , code] = await host.transport.waitForStderr(CODE_ON_STDERR);
    await decideInBrowser(browser, `${server.url}/device?user_code=${code}`, 'Deny');
    const error = (await connected) as McpError;
    expect(error).toMatchObject({ code: -32001, data: { error: 'access_denied' } });
    expect(error.message).toMatch(/the request was denied/);
    await host.transport.waitForStderr(/^devicegate mcp-proxy: .*denied.*\n/m);
    expect(host.transport.stderr.match(/^devicegate mcp-proxy: .*$/gm)).toHaveLength(1);
    expect(storedLogins().some((login) => login.profile === 'denied')).toBe(false);
    expectOnlyJsonRpcOnStdout(host);
  });

  it('login --resource without --issuer finds the issuer through RFC 9728', async () => {
    let approval: Promise<void> | undefined;
    const result = await runCli(['login', '--resource', mcp.url, '--client-id', 'mcp-cli', '--profile', 'ahead', '--json'], {
      env,
      onLine: (line) => {
        const event = JSON.parse(line) as { event: string; verification_uri_complete: string };
        if (event.event === 'device_authorization') approval = decideInBrowser(browser, event.verification_uri_complete, 'Approve');
      },
    });
    await approval;
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout.trim().split('\n')[1]!)).toMatchObject({ event: 'approved', issuer: server.url, resource: [mcp.url], subject: 'alice' });
  });
});
