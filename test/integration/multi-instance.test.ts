import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../src/domain/password.js';
import { freePort, startTestRedis, type TestRedis } from '../support/redis-server.js';
import { Agent } from '../ui/agent.js';

/**
 * Issue 10's "tests that must exist": three devicegate processes (separate data directories, one
 * private redis-server, the same DEVICEGATE_SECRET) behind no load balancer at all: each step goes
 * to another instance, as a round-robin balancer without sticky sessions would send it.
 */
const SECRET = 'multi-instance-test-secret-0123456789abcdef';
const ISSUER = 'http://gate.example.test';
const INTROSPECTOR_SECRET = 'resource-server-secret-for-introspection';
const FORM = 'application/x-www-form-urlencoded';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** Re-read interval of the shared keyring: the bound within which every instance sees a rotation. */
const REFRESH_INTERVAL_S = 1;
const ACTIVATION_DELAY_S = 2;

interface Instance {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: string[];
}

describe('three instances on one Redis', () => {
  let redis: TestRedis;
  let configPath: string;
  const instances: Instance[] = [];
  const instance = (i: number) => () => instances[i]!;
  const [A, B, C] = [instance(0), instance(1), instance(2)];

  const env = (overrides: Record<string, string>) => ({
    PATH: process.env.PATH ?? '',
    HOST: '127.0.0.1',
    ISSUER,
    REDIS_URL: redis.url,
    DEVICEGATE_SECRET: SECRET,
    DEVICEGATE_CONFIG: configPath,
    LOG_LEVEL: 'info',
    ...overrides,
  });

  async function startInstance(name: string, overrides: Record<string, string> = {}): Promise<Instance> {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), `devicegate-${name}-`));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: env({ PORT: String(port), DEVICEGATE_DATA_DIR: dataDir, ...overrides }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}: ${output.join('')}`);
      try {
        if ((await fetch(`${url}/healthz`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${name} did not start: ${output.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { name, url, child, output };
  }

  /** Runs a devicegate command (the CLI) with the servers' environment; resolves with its exit code and output. */
  function runCli(args: string[], overrides: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['bin/devicegate.mjs', ...args], {
        env: env(overrides),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** Starts a server expected to refuse to start; resolves with its exit code and output. */
  function failedStart(overrides: Record<string, string>): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        env: env({ PORT: '0', DEVICEGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'devicegate-bad-')), ...overrides }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (code) => {
        clearTimeout(killer);
        resolve({ code, output });
      });
    });
  }

  const post = (instance: Instance, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${instance.url}${path}`, { method: 'POST', headers: { 'content-type': FORM, ...headers }, body: new URLSearchParams(fields) });
  const introspectorAuth = `Basic ${Buffer.from(`resource-server:${INTROSPECTOR_SECRET}`).toString('base64')}`;
  const introspect = async (instance: Instance, token: string) =>
    (await (await post(instance, '/oauth/introspect', { token }, { authorization: introspectorAuth })).json()) as { active: boolean };
  const jwks = async (instance: Instance) =>
    (await (await fetch(`${instance.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };

  /** The browser moves between instances: it carries its cookie and the last page's form token along. */
  function moveTo(agent: Agent, instance: Instance): Agent {
    const moved = new Agent(instance.url);
    const cookie = agent.cookie('devicegate');
    if (cookie) moved.setCookie('devicegate', cookie);
    moved.csrf = agent.csrf;
    return moved;
  }

  beforeAll(async () => {
    redis = await startTestRedis();
    const dir = mkdtempSync(join(tmpdir(), 'devicegate-multi-'));
    configPath = join(dir, 'devicegate.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        tokens: { access_token_ttl: 600, refresh_token_ttl: 86_400 },
        users: [{ username: 'alice', password_hash: await hashSecret('alice-password') }],
        key_rotation: { refresh_interval: REFRESH_INTERVAL_S, activation_delay: ACTIVATION_DELAY_S, clock_skew: 1 },
        clients: [
          {
            client_id: 'demo-cli',
            grant_types: [DEVICE_GRANT, 'refresh_token'],
            scope: 'openid mcp:tools',
            device_code: { expires_in: 300, interval: 1 },
          },
          {
            client_id: 'resource-server',
            token_endpoint_auth_method: 'client_secret_basic',
            client_secret_hash: await hashSecret(INTROSPECTOR_SECRET),
          },
        ],
      }),
    );
    // One after the other would hide a creation race: all three start at once on an empty Redis.
    instances.push(...(await Promise.all(['A', 'B', 'C'].map((name) => startInstance(name)))));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(
      instances.map(
        (instance) =>
          new Promise((resolve) => {
            if (instance.child.exitCode !== null) return resolve(undefined);
            instance.child.once('exit', resolve);
            instance.child.kill('SIGTERM');
            setTimeout(() => instance.child.kill('SIGKILL'), 10_000).unref();
          }),
      ),
    );
    await redis?.close();
  });

  let accessToken: string;
  let refreshToken: string;
  let signedIn: Agent;

  it('shares one key set: every instance publishes the same JWKS, created once though all started together', async () => {
    const [a, b, c] = await Promise.all([jwks(A()), jwks(B()), jwks(C())]);
    expect(a.keys).toHaveLength(1);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    for (const instance of instances) expect(instance.output.join('')).not.toContain('single process');
  });

  it('creates a grant on A, approves it through the pages on B (signed in on A), redeems it on C', async () => {
    const created = await post(A(), '/oauth/device/authorize', { client_id: 'demo-cli' });
    expect(created.status).toBe(200);
    const codes = (await created.json()) as { device_code: string; user_code: string };

    // Sign in on A: the session cookie and the CSRF token come from A.
    const onA = new Agent(A().url);
    await onA.get('/device/sign-in');
    const signIn = await onA.post('/device/sign-in', { username: 'alice', password: 'alice-password' });
    expect(signIn.status).toBe(303);

    // Continue on B with A's cookie and token: B reads the session, accepts the CSRF token.
    const onB = moveTo(onA, B());
    await onB.get('/device');
    const entered = await onB.post('/device', { user_code: codes.user_code });
    expect(entered.status).toBe(303);
    expect(entered.location).toBe('/device/confirm');
    const confirmation = await onB.get('/device/confirm');
    expect(confirmation.status).toBe(200);
    expect(confirmation.text).toContain(codes.user_code);
    const approved = await onB.post('/device/confirm', { decision: 'approve' });
    expect(approved.status).toBe(200);
    expect(approved.text).toMatch(/approved/i);
    signedIn = onB;

    const redeemed = await post(C(), '/oauth/token', { grant_type: DEVICE_GRANT, device_code: codes.device_code, client_id: 'demo-cli' });
    expect(redeemed.status).toBe(200);
    const tokens = (await redeemed.json()) as { access_token: string; refresh_token: string };
    accessToken = tokens.access_token;
    refreshToken = tokens.refresh_token;

    // Exactly once across instances: A cannot redeem it again.
    const again = await post(A(), '/oauth/token', { grant_type: DEVICE_GRANT, device_code: codes.device_code, client_id: 'demo-cli' });
    expect(again.status).toBe(400);
  });

  it("verifies A's tokens against C's JWKS and C's against A's; every instance introspects them alike", async () => {
    const refreshed = await post(A(), '/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'demo-cli' });
    expect(refreshed.status).toBe(200);
    const fromA = (await refreshed.json()) as { access_token: string; refresh_token: string };
    refreshToken = fromA.refresh_token;

    const verifyWith = async (instance: Instance, token: string) =>
      (await jwtVerify(token, createLocalJWKSet(await jwks(instance)), { issuer: ISSUER, typ: 'at+jwt' })).payload;
    expect((await verifyWith(C(), fromA.access_token)).sub).toBe('alice');
    expect((await verifyWith(A(), accessToken)).sub).toBe('alice');
    accessToken = fromA.access_token;

    for (const instance of instances) {
      expect(await introspect(instance, accessToken), instance.name).toMatchObject({ active: true, sub: 'alice' });
      expect(await introspect(instance, refreshToken), instance.name).toMatchObject({ active: true, sub: 'alice' });
    }
  });

  it('revoked at B: inactive on A and C, the access token and the refresh token', async () => {
    const revoked = await post(B(), '/oauth/revoke', { token: refreshToken, client_id: 'demo-cli' });
    expect(revoked.status).toBe(200);
    for (const instance of [A(), C(), B()]) {
      expect(await introspect(instance, refreshToken), instance.name).toEqual({ active: false });
      expect(await introspect(instance, accessToken), instance.name).toEqual({ active: false });
    }
    const refused = await post(C(), '/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'demo-cli' });
    expect(refused.status).toBe(400);
  });

  it('signing out on B ends the session on A and C too (the same cookie is signed-out everywhere)', async () => {
    const cookie = signedIn.cookie('devicegate')!;
    const asIfCopied = (instance: Instance) => {
      const agent = new Agent(instance.url);
      agent.setCookie('devicegate', cookie);
      return agent;
    };
    // Signed in on every instance first (the sign-in page redirects a signed-in person away).
    expect((await asIfCopied(C()).get('/device/sign-in')).status).toBe(303);

    await signedIn.get('/device');
    const out = await signedIn.post('/device/sign-out', {});
    expect(out.status).toBe(303);
    for (const instance of instances) {
      const page = await asIfCopied(instance).get('/device/sign-in');
      expect(page.status, instance.name).toBe(200);
      expect(page.html, instance.name).toContain('name="password"');
    }
  });

  it('rotates keys: the new key is published on every instance within the refresh bound, before it signs; old tokens keep verifying', async () => {
    const before = (await jwks(A())).keys.map((key) => key.kid);
    const oldToken = accessToken;
    const rotation = await runCli(['rotate-keys']);
    expect(rotation.stderr).toBe('');
    expect(rotation.code).toBe(0);
    const { kid, signs_from } = JSON.parse(rotation.stdout) as { kid: string; signs_from: string };
    expect(before).not.toContain(kid);

    // Published everywhere within the refresh interval (polled generously: the machine may be loaded).
    for (const instance of instances) {
      await expect.poll(async () => (await jwks(instance)).keys.map((key) => key.kid), { timeout: 15_000, interval: 100 }).toContain(kid);
    }
    const issueToken = async (instance: Instance) => {
      const created = (await (await post(instance, '/oauth/device/authorize', { client_id: 'demo-cli' })).json()) as {
        device_code: string;
        user_code: string;
      };
      const browser = new Agent(instance.url);
      await browser.get('/device/sign-in');
      await browser.post('/device/sign-in', { username: 'alice', password: 'alice-password' });
      await browser.get('/device');
      await browser.post('/device', { user_code: created.user_code });
      await browser.get('/device/confirm');
      await browser.post('/device/confirm', { decision: 'approve' });
      const response = await post(instance, '/oauth/token', { grant_type: DEVICE_GRANT, device_code: created.device_code, client_id: 'demo-cli' });
      return ((await response.json()) as { access_token: string }).access_token;
    };
    // Before activation the old key still signs (if the machine was quick enough to get here in time).
    if (Date.now() < Date.parse(signs_from) - 500) {
      expect(decodeProtectedHeader(await issueToken(B())).kid).toBe(before[0]);
    }
    // After activation every instance signs with the new key.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(signs_from) - Date.now() + 200)));
    for (const instance of instances) {
      const token = await issueToken(instance);
      expect(decodeProtectedHeader(token).kid, instance.name).toBe(kid);
      for (const other of instances) {
        expect(await introspect(other, token), `${instance.name} → ${other.name}`).toMatchObject({ active: true });
      }
    }
    // The old key stays published (its tokens have not expired): an old token still verifies on every instance.
    for (const instance of instances) {
      const keys = (await jwks(instance)).keys.map((key) => key.kid);
      expect(keys).toEqual([kid, ...before]);
      await jwtVerify(oldToken, createLocalJWKSet(await jwks(instance)), { issuer: ISSUER, typ: 'at+jwt' });
    }
  }, 60_000);

  it('writes one audit line per transition, with a request id, client, subject and IP', async () => {
    const lines = instances
      .flatMap((instance) => instance.output.join('').split('\n'))
      .filter((line) => line.includes('"name":"audit"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const events = new Set(lines.map((line) => line.event));
    for (const event of ['issued', 'approved', 'redeemed', 'revoked', 'signed_out']) expect(events, event).toContain(event);
    const approved = lines.find((line) => line.event === 'approved')!;
    expect(approved).toMatchObject({ client_id: 'demo-cli', subject: 'alice', ip: '127.0.0.1' });
    expect(approved.request_id).toMatch(/^[0-9a-f-]{36}$/);
    const redeemed = lines.find((line) => line.event === 'redeemed')!;
    expect(redeemed).toMatchObject({ client_id: 'demo-cli', subject: 'alice', ip: '127.0.0.1' });
    // No code, token or secret in any line an instance wrote.
    const everything = instances.map((instance) => instance.output.join('')).join('');
    for (const secret of [SECRET, refreshToken, accessToken, 'alice-password', INTROSPECTOR_SECRET]) expect(everything).not.toContain(secret);
  });

  it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
    const sane = await fetch(`${A().url}/healthz`, { headers: { 'x-request-id': 'lb-1234.abcd' } });
    expect(sane.headers.get('x-request-id')).toBe('lb-1234.abcd');
    const unsafe = await fetch(`${A().url}/healthz`, { headers: { 'x-request-id': 'x'.repeat(300) } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses to start with a wrong, short or missing DEVICEGATE_SECRET, naming the field', async () => {
    const wrong = await failedStart({ DEVICEGATE_SECRET: 'another-secret-of-enough-length-0123456789' });
    expect(wrong.code).toBe(78);
    expect(wrong.output).toContain('DEVICEGATE_SECRET');
    expect(wrong.output).toContain('does not decrypt');
    const short = await failedStart({ DEVICEGATE_SECRET: 'too-short' });
    expect(short.code).toBe(78);
    expect(short.output).toContain('DEVICEGATE_SECRET');
    expect(short.output).not.toContain('too-short');
    const missing = await failedStart({ DEVICEGATE_SECRET: '' });
    expect(missing.code).toBe(78);
    expect(missing.output).toContain('DEVICEGATE_SECRET: required with REDIS_URL');
  }, 90_000);
});
