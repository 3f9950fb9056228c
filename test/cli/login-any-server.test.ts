import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type LoginOptions } from '../../src/cli/commands/login.js';
import { logout } from '../../src/cli/commands/logout.js';
import { status } from '../../src/cli/commands/status.js';
import { token } from '../../src/cli/commands/token.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { discover, metadataUrls } from '../../src/sdk/index.js';
import { fakeServer, json, testContext } from './support.js';

/**
 * Another vendor's RFC 8628 server: an issuer with a path (metadata at the RFC 8414 §3.1 inserted
 * location), endpoints at paths that are not ours, no verification_uri_complete, no interval, no
 * revocation endpoint, opaque access tokens. The CLI must follow the metadata, not our paths.
 */
describe('login against any RFC 8628 server (in-process, manual clock)', () => {
  let vendor: Awaited<ReturnType<typeof fakeServer>>;
  let issuer: string;
  const polls: number[] = [];
  let clockNow: () => number = () => 0;
  let tokenAnswers: Array<[number, object]> = [];
  let metadataOverride: Record<string, unknown> | undefined;

  beforeAll(async () => {
    vendor = await fakeServer((base) => (request, response) => {
      if (request.method === 'GET' && request.path === '/.well-known/oauth-authorization-server/tenant-a') {
        return json(response, 200, {
          issuer: `${base}/tenant-a`,
          device_authorization_endpoint: `${base}/as/device_authorization`,
          token_endpoint: `${base}/as/token.oauth2`,
          grant_types_supported: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
          ...metadataOverride,
        });
      }
      if (request.method === 'GET' && request.path === '/tenant-b/.well-known/oauth-authorization-server') {
        // Only at the path-appended location, as many servers publish it.
        return json(response, 200, { issuer: `${base}/tenant-b`, token_endpoint: `${base}/b/token`, device_authorization_endpoint: `${base}/b/device` });
      }
      if (request.method === 'POST' && request.path === '/as/device_authorization') {
        if (request.form.get('client_id') !== 'vendor-cli') return json(response, 401, { error: 'invalid_client' });
        return json(response, 200, { device_code: 'dc-1', user_code: 'BCDF-GHJK', verification_uri: `${base}/activate`, expires_in: 60 });
      }
      if (request.method === 'POST' && request.path === '/as/token.oauth2') {
        if (request.form.get('grant_type') === 'refresh_token') {
          return json(response, 200, { access_token: 'opaque-2', token_type: 'Bearer', expires_in: 3600 });
        }
        polls.push(clockNow());
        const [status, body] = tokenAnswers.shift() ?? [400, { error: 'authorization_pending' }];
        return json(response, status, body);
      }
      json(response, 404, { error: 'not_found' });
    });
    issuer = `${vendor.base}/tenant-a`;
  });
  afterAll(() => vendor.close());

  const options = (overrides: Partial<LoginOptions> = {}): LoginOptions => ({
    issuer,
    clientId: 'vendor-cli',
    resource: [],
    profile: 'vendor',
    json: true,
    open: false,
    showToken: false,
    allowHttp: false,
    ...overrides,
  });

  it('discovers, polls at the default 5 s, slows down by 5 s, stores the tokens; JSON lines only on stdout', async () => {
    const ctx = testContext();
    const start = ctx.clock.now();
    clockNow = () => (ctx.clock.now() - start) / 1000;
    polls.length = 0;
    tokenAnswers = [
      [400, { error: 'authorization_pending' }],
      [400, { error: 'slow_down' }],
      [200, { access_token: 'opaque-1', token_type: 'Bearer', expires_in: 120, refresh_token: 'r-1', scope: 'read' }],
    ];
    expect(await login(ctx, options())).toBe(ExitCode.ok);
    expect(polls).toEqual([5, 10, 20]);
    const lines = ctx.stdout.lines().map((line) => JSON.parse(line));
    expect(lines).toEqual([
      {
        event: 'device_authorization',
        user_code: 'BCDF-GHJK',
        verification_uri: `${vendor.base}/activate`,
        verification_uri_complete: null,
        expires_in: 60,
        interval: 5,
        expires_at: new Date(start + 60_000).toISOString(),
      },
      {
        event: 'approved',
        issuer,
        client_id: 'vendor-cli',
        profile: 'vendor',
        subject: null,
        scope: 'read',
        resource: [],
        token_type: 'Bearer',
        expires_in: 120,
        expires_at: new Date(start + 20_000 + 120_000).toISOString(), // counted from the poll that got it
        has_refresh_token: true,
      },
    ]);
    expect(ctx.stdout.text).not.toContain('opaque-1');
    expect(ctx.stdout.text).not.toContain('r-1');
    expect(ctx.stderr.text).toBe(''); // --json keeps stderr quiet

    const stored = (await ctx.store.list())[0]!.login;
    expect(stored.endpoints).toEqual({ token: `${vendor.base}/as/token.oauth2`, revocation: null, jwks_uri: null });

    // token: refreshes at the stored (vendor) token endpoint once expired.
    ctx.clock.advance(200_000);
    expect(await token(ctx, { selector: { profile: 'vendor' }, json: false })).toBe(ExitCode.ok);
    expect(ctx.stdout.lines().at(-1)).toBe('opaque-2');
    expect((await ctx.store.list())[0]!.login.refresh_token).toBe('r-1'); // none returned: kept

    // status reads locally; logout without a revocation endpoint deletes and says what remains valid.
    const statusCtx = testContext({ home: ctx.store.home });
    expect(await status(statusCtx, { selector: {}, json: true })).toBe(ExitCode.ok);
    expect(JSON.parse(statusCtx.stdout.text).logins[0]).toMatchObject({ issuer, profile: 'vendor', subject: null, has_refresh_token: true });
    expect(await logout(ctx, { selector: { profile: 'vendor' } })).toBe(ExitCode.ok);
    expect(ctx.stderr.text).toMatch(/offers no revocation endpoint/);
    expect(await ctx.store.list()).toEqual([]);
  });

  it('human mode off a terminal: URI and code on stderr, no QR, no spinner, nothing on stdout; --open without a display is a note', async () => {
    const ctx = testContext();
    tokenAnswers = [[200, { access_token: 'opaque-1', token_type: 'Bearer', expires_in: 120 }]];
    expect(await login(ctx, options({ json: false, open: true }))).toBe(ExitCode.ok);
    expect(ctx.stdout.text).toBe('');
    expect(ctx.stderr.text).toContain(`${vendor.base}/activate`);
    expect(ctx.stderr.text).toContain('BCDF-GHJK');
    expect(ctx.stderr.text).not.toMatch(/[█▀▄]|\x1b|\r/);
    expect(ctx.stderr.text).toContain('Not opening a browser: no graphical display');
    expect(ctx.launched).toEqual([]);
    expect(ctx.stderr.text).toMatch(/no refresh token/);
  });

  it('--qr forces the QR code (of verification_uri when there is no _complete); --open with a display launches it', async () => {
    const ctx = testContext({ env: { DISPLAY: ':0', PATH: process.env.PATH } });
    tokenAnswers = [[200, { access_token: 'opaque-1', token_type: 'Bearer', expires_in: 120 }]];
    expect(await login(ctx, options({ json: false, qr: true, open: true }))).toBe(ExitCode.ok);
    expect(ctx.stderr.text).toMatch(/█/);
    expect(ctx.stderr.text).toContain('Or scan this to open the page:');
    // xdg-open may or may not be installed here; either it was "launched" or the note says why not.
    if (ctx.launched.length) expect(ctx.launched).toEqual([`xdg-open ${vendor.base}/activate`]);
    else expect(ctx.stderr.text).toContain('`xdg-open` is not on PATH');
  });

  it('off a terminal, retries and slow_down are plain status lines on stderr', async () => {
    const ctx = testContext();
    tokenAnswers = [
      [503, { error: 'temporarily_unavailable' }],
      [400, { error: 'slow_down' }],
      [200, { access_token: 'opaque-1', token_type: 'Bearer', expires_in: 120 }],
    ];
    expect(await login(ctx, options({ json: false }))).toBe(ExitCode.ok);
    expect(ctx.stderr.text).toContain('Could not reach the token endpoint (HTTP 503 temporarily_unavailable); retrying in 10 s');
    expect(ctx.stderr.text).toContain('The server asked to slow down; polling every 10 s.');
  });

  it('exits 4 when the code expires and 3 when denied, with an error line', async () => {
    const expired = testContext();
    tokenAnswers = [];
    expect(await login(expired, options())).toBe(ExitCode.expired);
    expect(JSON.parse(expired.stdout.lines()[1]!)).toMatchObject({ event: 'error', error: 'expired_token', exit_code: 4 });
    const denied = testContext();
    tokenAnswers = [[400, { error: 'access_denied' }]];
    expect(await login(denied, options())).toBe(ExitCode.denied);
    expect(JSON.parse(denied.stdout.lines()[1]!)).toMatchObject({ event: 'error', error: 'access_denied', exit_code: 3 });
    expect(await denied.store.list()).toEqual([]);
  });

  it('refuses mismatched metadata (RFC 8414 §3.3), a server without a device endpoint, a refused client', async () => {
    const mismatch = testContext();
    metadataOverride = { issuer: 'https://evil.example.com/tenant-a' };
    expect(await login(mismatch, options())).toBe(ExitCode.network);
    expect(JSON.parse(mismatch.stdout.text)).toMatchObject({ event: 'error', error: 'issuer_mismatch' });

    const noDevice = testContext();
    metadataOverride = { device_authorization_endpoint: undefined };
    expect(await login(noDevice, options())).toBe(ExitCode.refused);
    expect(JSON.parse(noDevice.stdout.text)).toMatchObject({ error: 'unsupported_grant_type' });

    const insecure = testContext();
    metadataOverride = { token_endpoint: 'http://tokens.example.com/token' };
    expect(await login(insecure, options())).toBe(ExitCode.network);
    expect(JSON.parse(insecure.stdout.text)).toMatchObject({ error: 'insecure_url' });
    metadataOverride = undefined;

    const unknown = testContext();
    expect(await login(unknown, options({ clientId: 'nobody' }))).toBe(ExitCode.refused);
    expect(JSON.parse(unknown.stdout.text)).toMatchObject({ error: 'invalid_client', exit_code: 6 });

    // A trailing slash is another issuer: refused, with the exact value to use.
    const slash = testContext();
    expect(await login(slash, options({ issuer: `${issuer}/` }))).toBe(ExitCode.network);
    expect(JSON.parse(slash.stdout.text).error_description).toContain(`names the issuer "${issuer}"`);
  });

  it('usage errors (exit 2) before any request: plain http off loopback, bad resource, bad profile', async () => {
    for (const bad of [
      options({ issuer: 'http://auth.example.com' }),
      options({ resource: ['not a uri'] }),
      options({ resource: ['https://mcp.example.com/#frag'] }),
      options({ profile: '../etc' }),
    ]) {
      const ctx = testContext();
      expect(await login(ctx, bad)).toBe(ExitCode.usage);
    }
  });

  it('exits 5 when the server cannot be reached', async () => {
    const ctx = testContext();
    expect(await login(ctx, options({ issuer: 'http://127.0.0.1:9' }))).toBe(ExitCode.network);
    expect(JSON.parse(ctx.stdout.text)).toMatchObject({ event: 'error', error: 'network_error' });
  });

  it('metadata locations: RFC 8414 inserted path first, then appended, then OpenID Connect', () => {
    expect(metadataUrls('https://as.example.com')).toEqual([
      'https://as.example.com/.well-known/oauth-authorization-server',
      'https://as.example.com/.well-known/openid-configuration',
    ]);
    expect(metadataUrls('https://as.example.com/tenant/')).toEqual([
      'https://as.example.com/.well-known/oauth-authorization-server/tenant',
      'https://as.example.com/tenant/.well-known/oauth-authorization-server',
      'https://as.example.com/.well-known/openid-configuration/tenant',
      'https://as.example.com/tenant/.well-known/openid-configuration',
    ]);
    expect(() => metadataUrls('https://as.example.com/?x=1')).toThrow(/without query/);
  });

  it('discover() falls back to the path-appended location, and says when there is no metadata anywhere', async () => {
    const { metadata, metadataUrl } = await discover(`${vendor.base}/tenant-b`);
    expect(metadataUrl).toBe(`${vendor.base}/tenant-b/.well-known/oauth-authorization-server`);
    expect(metadata.token_endpoint).toBe(`${vendor.base}/b/token`);
    await expect(discover(`${vendor.base}/nothing`)).rejects.toMatchObject({ name: 'DiscoveryError', reason: 'not_found', status: 404 });
  });

  it('discover() binds the SDK to the advertised endpoints; absent ones throw instead of guessing our paths', async () => {
    const { client } = await discover(issuer);
    await expect(client.revoke({ token: 't' })).rejects.toThrow(/advertises no revocation endpoint/);
    await expect(client.deviceAuthorization({ client_id: 'vendor-cli' })).resolves.toMatchObject({ user_code: 'BCDF-GHJK' });
  });
});
