import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredLogin } from '../../src/cli/token-store.js';
import type { RunningServer } from '../../src/server.js';
import type { Browser } from 'playwright-core';
import { decideInBrowser, launchChromium } from '../support/browser.js';
import { form, startRealTimeTestServer } from '../support/server.js';
import { childEnv, runCli } from './support.js';

/** What the person does with the code: in a real browser on the verification pages. */
interface Person {
  readonly name: string;
  approve(flow: { userCode: string; verificationUriComplete: string; server: RunningServer }): Promise<void>;
  deny(flow: { userCode: string; verificationUriComplete: string; server: RunningServer }): Promise<void>;
}

/** The person in headless Chromium: verification_uri_complete → Continue → sign in → Approve / Deny. */
let browser: Browser | undefined;
const throughBrowser: Person = {
  name: 'the person approves in headless Chromium',
  async approve({ verificationUriComplete }) {
    browser ??= await launchChromium();
    await decideInBrowser(browser, verificationUriComplete, 'Approve');
  },
  async deny({ verificationUriComplete }) {
    browser ??= await launchChromium();
    await decideInBrowser(browser, verificationUriComplete, 'Deny');
  },
};
afterAll(async () => {
  await browser?.close();
});

// The person approves in the browser; `npm test` makes sure Chromium is there (scripts/test-prerequisites.mjs).
cliEndToEnd(throughBrowser);

/**
 * The real `devicegate` binary as a child process against the real server (memory store, real clock,
 * client `fast-cli` with a 1 s interval), the tokens verified as a resource server would.
 */
function cliEndToEnd(person: Person) {
  describe(`devicegate CLI end to end (${person.name})`, { timeout: 60_000 }, () => {
    let server: RunningServer;
    let home: string;
    let env: NodeJS.ProcessEnv;
    beforeAll(async () => {
      server = await startRealTimeTestServer('memory');
      home = mkdtempSync(join(tmpdir(), 'devicegate-e2e-'));
      env = childEnv(home);
    });
    afterAll(() => server.close());

    const tokensDir = () => join(home, 'tokens');
    const storedFile = (profile = 'default') => {
      const name = readdirSync(tokensDir()).find((file) => file.endsWith('.json') && file.includes(`_${profile}_`));
      return join(tokensDir(), name!);
    };
    const stored = (profile?: string) => JSON.parse(readFileSync(storedFile(profile), 'utf8')) as StoredLogin;
    const jwks = () => createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
    const verify = (token: string, audience = server.url) =>
      jwtVerify(token, jwks(), { issuer: server.url, audience, typ: 'at+jwt', algorithms: ['ES256'] });
    const refreshAtServer = async (refreshToken: string) => {
      const response = await fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'fast-cli' }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    /** `login --json`, letting `decide` act on the code from the first JSON line. */
    const loginJson = (extra: string[], decideOn: (flow: { userCode: string; verificationUriComplete: string; server: RunningServer }) => Promise<void>) => {
      let decision: Promise<void> | undefined;
      const run = runCli(['login', '--issuer', server.url, '--client-id', 'fast-cli', '--json', ...extra], {
        env,
        onLine: (line) => {
          const event = JSON.parse(line) as { event: string; user_code: string; verification_uri_complete: string };
          if (event.event === 'device_authorization') {
            decision = decideOn({ userCode: event.user_code, verificationUriComplete: event.verification_uri_complete, server });
          }
        },
      });
      return run.then(async (result) => {
        await decision;
        return result;
      });
    };

    it('login --json: two JSON lines on stdout, nothing else; a 0600 token file in a 0700 directory', async () => {
      const result = await loginJson([], (flow) => person.approve(flow));
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const lines = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatchObject({ event: 'device_authorization', interval: 1, expires_in: 120 });
      expect(lines[0].user_code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
      expect(lines[0].verification_uri).toBe(`${server.url}/device`);
      expect(lines[0].verification_uri_complete).toBe(`${server.url}/device?user_code=${lines[0].user_code}`);
      expect(lines[1]).toMatchObject({ event: 'approved', issuer: server.url, client_id: 'fast-cli', profile: 'default', subject: 'alice', has_refresh_token: true });
      expect(lines[1]).not.toHaveProperty('access_token');

      expect(statSync(storedFile()).mode & 0o777).toBe(0o600);
      expect(statSync(tokensDir()).mode & 0o777).toBe(0o700);
      const login = stored();
      expect(result.stdout).not.toContain(login.access_token);
      expect(result.stdout).not.toContain(login.refresh_token!);
      expect(login.endpoints.token).toBe(`${server.url}/oauth/token`);
    });

    it('token prints a JWT that verifies against the JWKS, and nothing else', async () => {
      const result = await runCli(['token'], { env });
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
      const { payload } = await verify(result.stdout.trim());
      expect(payload).toMatchObject({ sub: 'alice', client_id: 'fast-cli', scope: 'openid profile mcp:tools' });
      expect(result.stdout.trim()).toBe(stored().access_token); // still valid: no refresh
    });

    it('token refreshes an expired access token and stores the rotated refresh token', async () => {
      const before = stored();
      writeFileSync(storedFile(), JSON.stringify({ ...before, expires_at: new Date(Date.now() - 1000).toISOString() }), { mode: 0o600 });
      const result = await runCli(['token', '--issuer', server.url, '--client-id', 'fast-cli'], { env });
      expect(result).toMatchObject({ code: 0, stderr: '' });
      const after = stored();
      expect(result.stdout.trim()).toBe(after.access_token);
      expect(after.access_token).not.toBe(before.access_token);
      expect(after.refresh_token).not.toBe(before.refresh_token);
      expect(Date.parse(after.expires_at!)).toBeGreaterThan(Date.now() + 500_000);
      expect((await verify(after.access_token)).payload.sub).toBe('alice');
      expect(statSync(storedFile()).mode & 0o777).toBe(0o600);
    });

    it('status shows who is logged in where', async () => {
      const human = await runCli(['status'], { env });
      expect(human.code).toBe(0);
      expect(human.stdout).toContain(server.url);
      expect(human.stdout).toMatch(/subject:\s+alice/);
      expect(human.stdout).toMatch(/scope:\s+openid profile mcp:tools/);
      expect(human.stdout).toMatch(/access token:\s+valid for 10 min/);
      const json = await runCli(['status', '--json'], { env });
      expect(JSON.parse(json.stdout)).toMatchObject({
        logins: [{ issuer: server.url, client_id: 'fast-cli', profile: 'default', subject: 'alice', expired: false, has_refresh_token: true }],
      });
    });

    it('HTTP_PROXY: requests go through the proxy (undici EnvHttpProxyAgent), with no warning on stderr', async () => {
      const tunnels: string[] = [];
      const proxy: Server = createHttpServer((_, response) => response.writeHead(502).end());
      proxy.on('connect', (request, socket, head) => {
        tunnels.push(request.url ?? '');
        const [host, port] = (request.url ?? '').split(':');
        const upstream = connect(Number(port), host!, () => {
          socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          upstream.write(head);
          upstream.pipe(socket);
          socket.pipe(upstream);
        });
        upstream.on('error', () => socket.destroy());
        socket.on('error', () => upstream.destroy());
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      try {
        const before = stored();
        writeFileSync(storedFile(), JSON.stringify({ ...before, expires_at: new Date(0).toISOString() }), { mode: 0o600 });
        const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
        const result = await runCli(['token'], { env: { ...env, HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl } });
        expect(result).toMatchObject({ code: 0, stderr: '' });
        expect(tunnels).toEqual([new URL(server.url).host]);
        expect(stored().access_token).toBe(result.stdout.trim());
      } finally {
        proxy.closeAllConnections();
        await new Promise((resolve) => proxy.close(resolve));
      }
    });
    it('a second login under a profile with a resource: audience-bound token, chosen with --profile', async () => {
      const result = await loginJson(['--profile', 'mcp', '--scope', 'mcp:tools', '--resource', 'https://mcp.example.com/'], (flow) => person.approve(flow));
      expect(result.code).toBe(0);
      const plain = await runCli(['token'], { env }); // two logins: the default profile wins
      expect(plain.stdout.trim()).toBe(stored().access_token);
      const mcp = await runCli(['token', '--profile', 'mcp'], { env });
      const { payload } = await verify(mcp.stdout.trim(), 'https://mcp.example.com/');
      expect(payload).toMatchObject({ aud: 'https://mcp.example.com/', scope: 'mcp:tools' });
      const json = await runCli(['token', '--json'], { env: { ...env, DEVICEGATE_PROFILE: 'mcp' } });
      expect(JSON.parse(json.stdout)).toMatchObject({ access_token: mcp.stdout.trim(), profile: 'mcp', scope: 'mcp:tools' });
    });

    it('a refresh token rotated away is spent: presenting it revokes the login, and token says to log in again (exit 7)', async () => {
      const before = stored('mcp');
      writeFileSync(storedFile('mcp'), JSON.stringify({ ...before, expires_at: new Date(0).toISOString() }), { mode: 0o600 });
      expect((await runCli(['token', '--profile', 'mcp'], { env })).code).toBe(0);
      expect(stored('mcp').refresh_token).not.toBe(before.refresh_token);
      // Someone replays the old one: rejected, and the server revokes the family (reuse detection).
      expect(await refreshAtServer(before.refresh_token!)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      writeFileSync(storedFile('mcp'), JSON.stringify({ ...stored('mcp'), expires_at: new Date(0).toISOString() }), { mode: 0o600 });
      const token = await runCli(['token', '--profile', 'mcp'], { env });
      expect(token).toMatchObject({ code: 7, stdout: '' });
      expect(token.stderr).toMatch(/refresh token was rejected .*: run devicegate login --issuer .* --client-id fast-cli --profile mcp/);
    });

    it('logout revokes the refresh token at the server and deletes the file; token then says to log in (exit 7)', async () => {
      const login = stored();
      const result = await runCli(['logout', '--issuer', server.url, '--client-id', 'fast-cli', '--profile', 'default'], { env });
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/Logged out of .*: tokens revoked at the server and deleted locally/);
      expect(readdirSync(tokensDir()).some((file) => file.includes('_default_'))).toBe(false);
      expect(await refreshAtServer(login.refresh_token!)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      const token = await runCli(['token', '--profile', 'default'], { env });
      expect(token).toMatchObject({ code: 7, stdout: '' });
      expect(token.stderr).toMatch(/not logged in \(profile default\): run devicegate login/);
    });

    it('denial: exit 3 and an error line; nothing stored', async () => {
      const result = await loginJson(['--profile', 'denied'], (flow) => person.deny(flow));
      expect(result.code).toBe(3);
      const lines = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
      expect(lines.map((line) => line.event)).toEqual(['device_authorization', 'error']);
      expect(lines[1]).toMatchObject({ error: 'access_denied', exit_code: 3 });
      expect(readdirSync(tokensDir()).some((file) => file.includes('_denied_'))).toBe(false);
    });

    it('Ctrl-C while waiting: exit 130 and an error line; nothing stored', async () => {
      const result = await runCli(['login', '--issuer', server.url, '--client-id', 'fast-cli', '--json', '--profile', 'cancelled'], {
        env,
        onLine: (line, child) => {
          if (line.includes('device_authorization')) child.kill('SIGINT');
        },
      });
      expect(result.code).toBe(130);
      const lines = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
      expect(lines[1]).toMatchObject({ event: 'error', error: 'interrupted', exit_code: 130 });
      expect(readdirSync(tokensDir()).some((file) => file.includes('_cancelled_'))).toBe(false);
    });

    it('usage errors exit 2; a refused scope exits 6', async () => {
      expect((await runCli(['login', '--client-id', 'fast-cli'], { env })).code).toBe(2);
      const scope = await runCli(['login', '--issuer', server.url, '--client-id', 'fast-cli', '--scope', 'admin', '--json'], { env });
      expect(scope.code).toBe(6);
      expect(JSON.parse(scope.stdout)).toMatchObject({ event: 'error', error: 'invalid_scope' });
    });

  });
}
