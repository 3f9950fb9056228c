import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigFile, parseConfigFile } from '../../src/config.js';
import { ManualClock } from '../../src/domain/clock.js';
import { startServer } from '../../src/server.js';
import { freePort, startTestRedis, type TestRedis } from '../support/redis-server.js';
import {
  DEVICE_GRANT,
  form,
  type StoreKind,
  startTestServer,
  TEST_USERS,
  type TestServer,
  testConfigFile,
  testStores,
} from '../support/server.js';
import { Agent, alertText, inputValue, type PageResponse, sessionPayload, sloppy } from './agent.js';

const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const MALFORMED = 'A code has 8 letters and digits, like WDJB-MJHT. Check it and try again.';
const GENERIC = 'That code is not valid or has expired. Check it, or start again on your device.';
const WRONG_SIGN_IN = 'Wrong username or password.';
const USER_AGENT = 'devicegate-ui-test/7.3 (DistinctiveDevice; build 42)';
const SCOPE_WORDS = { 'mcp:tools': 'Use MCP tools on your behalf' };
/** Valid-looking codes no grant holds (the chance that a random live code equals one is 31^-8). */
const UNKNOWN_CODES = ['WDJB-MJHT', 'BCDF-GHJK', 'MNPQ-RSTV', 'WXYZ-2345', 'HJKM-6789', 'QRST-VWXY', 'ABCD-EFGH', 'PQRS-TUVW'];

/** A config with the test defaults and these `verification` settings (the block is replaced whole). */
function verificationConfig(verification: Record<string, unknown>): Promise<ConfigFile> {
  return testConfigFile({ verification: { scope_descriptions: SCOPE_WORDS, ...verification } });
}

function expectPageHeaders(page: PageResponse): void {
  expect(page.headers.get('content-security-policy')).toBe(CSP);
  expect(page.headers.get('content-security-policy')).not.toContain('unsafe-inline');
  expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  expect(page.headers.get('x-frame-options')).toBe('DENY');
  expect(page.headers.get('cache-control')).toBe('no-store');
}

/** An HTML page with the security headers and exactly this status. */
function expectPage(page: PageResponse, status: number): void {
  expect(page.status, page.text.slice(0, 300)).toBe(status);
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expectPageHeaders(page);
}

function expectRedirect(page: PageResponse, location: string): void {
  expect({ status: page.status, location: page.location }).toEqual({ status: 303, location });
  expectPageHeaders(page);
}

describe.each<StoreKind>(['memory', 'redis'])('verification pages (%s store)', (kind) => {
  let redis: TestRedis | undefined;
  let server: TestServer;
  const extraServers: TestServer[] = [];

  beforeAll(async () => {
    if (kind === 'redis') redis = await startTestRedis();
    // Generous limits here; the limiter has its own servers below (fetch always comes from 127.0.0.1).
    server = await startTestServer(
      kind,
      redis,
      undefined,
      await verificationConfig({ failed_code_entries: { per_ip: 1000, per_account: 1000, window: 900 } }),
    );
  });
  afterAll(async () => {
    await Promise.all([server, ...extraServers].map((s) => s.close()));
    await redis?.close();
  });

  /** Another server of this store kind (own key prefix, own limiter budget), closed after the file. */
  async function anotherServer(file: ConfigFile): Promise<TestServer> {
    const started = await startTestServer(kind, redis, undefined, file);
    extraServers.push(started);
    return started;
  }

  interface Codes {
    device_code: string;
    user_code: string;
    verification_uri: string;
    verification_uri_complete: string;
    expires_in: number;
  }

  async function authorize(
    on: TestServer = server,
    params: Record<string, string | string[]> = { client_id: 'demo-cli', scope: 'openid mcp:tools', resource: 'https://mcp.example.com/' },
    userAgent = USER_AGENT,
  ): Promise<Codes> {
    const response = await fetch(`${on.url}/oauth/device/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': userAgent },
      body: form(params),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Codes;
  }

  const grantOf = (codes: Codes, on: TestServer = server) => on.stores.grants.findByUserCode(codes.user_code.replace('-', ''));

  /** GET /device, then POST the code as typed. */
  async function enterCode(agent: Agent, typed: string): Promise<PageResponse> {
    await agent.get('/device');
    return agent.post('/device', { user_code: typed });
  }

  async function signIn(agent: Agent, username: keyof typeof TEST_USERS = 'alice'): Promise<PageResponse> {
    const page = await agent.get('/device/sign-in');
    if (page.status === 303) return page; // already signed in
    return agent.post('/device/sign-in', { username, password: TEST_USERS[username] });
  }

  /** A fresh browser that has entered the code and signed in: it stands on the confirmation page. */
  async function atConfirmation(codes: Codes, on: TestServer = server, username: keyof typeof TEST_USERS = 'alice') {
    const agent = new Agent(on.url);
    expectRedirect(await enterCode(agent, sloppy(codes.user_code)), '/device/sign-in');
    expectRedirect(await signIn(agent, username), '/device/confirm');
    const page = await agent.get('/device/confirm');
    expectPage(page, 200);
    return { agent, page };
  }

  async function poll(codes: Codes, on: TestServer = server) {
    const response = await fetch(`${on.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({ grant_type: DEVICE_GRANT, device_code: codes.device_code, client_id: 'demo-cli' }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  describe('GET /device: the code entry form', () => {
    it('has a labelled code field, a CSRF token, a Continue button, the security headers and a session cookie', async () => {
      const agent = new Agent(server.url);
      const page = await agent.get('/device');
      expectPage(page, 200);
      expect(page.html).toMatch(/<label for="user_code">Code<\/label>/);
      expect(page.html).toMatch(/<input class="code" type="text" id="user_code" name="user_code" value=""/);
      expect(page.html).toMatch(/<form method="post" action="\/device">\s*<input type="hidden" name="csrf" value="[A-Za-z0-9_-]{43}">/);
      expect(page.html).toMatch(/<button type="submit" class="primary">Continue<\/button>/);
      expect(page.html).not.toMatch(/<script|style=/i); // nothing inline: the CSP forbids it
      expect(page.html).toContain('<link rel="stylesheet" href="/device/style.css">');
      expect(page.text).toContain('For example WDJB-MJHT. Dashes and case do not matter.');
      expect(sessionPayload(agent.cookie('devicegate'))).toMatchObject({ subject: null, userCode: null });
    });

    it.each([
      ['lower case without dash', (c: string) => sloppy(c)],
      ['spaces', (c: string) => ` ${c.slice(0, 2)} ${c.slice(2, 4)} ${c.slice(5).toLowerCase()} `],
      ['extra dashes', (c: string) => c.replace('-', '--').replace(/^(..)/, '$1-')],
      ['canonical', (c: string) => c],
    ])('pre-fills ?user_code= typed with %s, formatted', async (_, typeIt) => {
      const codes = await authorize();
      const page = await new Agent(server.url).get(`/device?user_code=${encodeURIComponent(typeIt(codes.user_code))}`);
      expectPage(page, 200);
      expect(inputValue(page.html, 'user_code')).toBe(codes.user_code);
      expect(page.text).toContain('Check that this is exactly the code your device shows.');
    });

    it('pre-fills a malformed ?user_code= as given (escaped, cut to 32 characters)', async () => {
      const typed = '"><b>x</b>' + 'Z'.repeat(40);
      const page = await new Agent(server.url).get(`/device?user_code=${encodeURIComponent(typed)}`);
      expectPage(page, 200);
      expect(inputValue(page.html, 'user_code')).toBe(typed.slice(0, 32));
      expect(page.html).not.toContain('<b>x</b>');
    });

    it('never approves by itself: verification_uri_complete, even signed in, leaves the grant pending and the session without a code', async () => {
      const codes = await authorize();
      const agent = new Agent(server.url);
      expectRedirect(await signIn(agent), '/device');
      const page = await agent.get(new URL(codes.verification_uri_complete).pathname + new URL(codes.verification_uri_complete).search);
      expectPage(page, 200);
      expect(inputValue(page.html, 'user_code')).toBe(codes.user_code);
      expect(await grantOf(codes)).toMatchObject({ status: 'pending', subject: null, decidedAt: null });
      expect(sessionPayload(agent.cookie('devicegate')).userCode).toBeNull();
      expectRedirect(await agent.get('/device/confirm'), '/device');
      expect((await poll(codes)).body.error).toBe('authorization_pending');
    });
  });

  describe('POST /device: entering the code', () => {
    it('accepts lower case without the dash and sends a signed-out person to sign in', async () => {
      const codes = await authorize();
      const agent = new Agent(server.url);
      expectRedirect(await enterCode(agent, sloppy(codes.user_code)), '/device/sign-in');
      expect(sessionPayload(agent.cookie('devicegate')).userCode).toBe(codes.user_code.replace('-', ''));
      expect((await grantOf(codes))?.status).toBe('pending');
    });

    it('sends a signed-in person straight to the confirmation', async () => {
      const codes = await authorize();
      const agent = new Agent(server.url);
      expectRedirect(await signIn(agent), '/device');
      expectRedirect(await enterCode(agent, ` ${codes.user_code.toLowerCase()} `), '/device/confirm');
    });

    it.each(['abc', 'WDJB-MJH0', 'WDJB MJHT X', 'wdjb-mjh1', 'ÄÖÜß-1234', ''])(
      'a malformed code (%j) gets 400 and the clear message, the input kept',
      async (typed) => {
        const agent = new Agent(server.url);
        await agent.get('/device');
        const page = await agent.post('/device', { user_code: typed });
        expectPage(page, 400);
        expect(alertText(page.html)).toBe(MALFORMED);
        expect(inputValue(page.html, 'user_code')).toBe(typed);
        expect(sessionPayload(agent.cookie('devicegate')).userCode).toBeNull();
      },
    );

    it('unknown, expired and already-decided codes get the same 400 and the same message (no oracle)', async () => {
      const decided = await authorize();
      expect(await server.stores.grants.decide(decided.user_code.replace('-', ''), { kind: 'deny' }, server.clock.now())).toBe('denied');
      const approved = await authorize();
      await server.stores.grants.decide(approved.user_code.replace('-', ''), { kind: 'approve', subject: 'bob' }, server.clock.now());
      const expired = await authorize();
      server.clock.advance((expired.expires_in + 1) * 1000);

      const pages: Record<string, PageResponse> = {};
      for (const [name, code] of Object.entries({ unknown: UNKNOWN_CODES[0]!, expired: expired.user_code, denied: decided.user_code, approved: approved.user_code })) {
        const agent = new Agent(server.url);
        pages[name] = await enterCode(agent, sloppy(code));
        expect(sessionPayload(agent.cookie('devicegate')).userCode, name).toBeNull();
      }
      for (const [name, page] of Object.entries(pages)) {
        expectPage(page, 400);
        expect(alertText(page.html), name).toBe(GENERIC);
      }
      // The pages differ only in the code echoed back and the per-session CSRF token.
      const skeleton = (page: PageResponse) => page.html.replace(/value="[^"]*"/g, 'value=""');
      expect(new Set(Object.values(pages).map(skeleton)).size).toBe(1);
    });

    it('a code of another form field or none at all is the malformed message, not a lookup', async () => {
      const agent = new Agent(server.url);
      await agent.get('/device');
      const page = await agent.post('/device', { code: 'WDJB-MJHT' });
      expectPage(page, 400);
      expect(alertText(page.html)).toBe(MALFORMED);
    });
  });

  describe('sign-in', () => {
    it('shows labelled username and password fields', async () => {
      const page = await new Agent(server.url).get('/device/sign-in');
      expectPage(page, 200);
      expect(page.html).toMatch(/<label for="username">Username<\/label>\s*<input type="text" id="username" name="username"/);
      expect(page.html).toMatch(/<label for="password">Password<\/label>\s*<input type="password" id="password" name="password"/);
      expect(page.html).toMatch(/name="csrf" value="[A-Za-z0-9_-]{43}"/);
      expect(page.html).toMatch(/<button type="submit" class="primary">Sign in<\/button>/);
    });

    it('a wrong password or an unknown user: 401 and one generic message, the username kept (escaped), not signed in', async () => {
      const agent = new Agent(server.url);
      await agent.get('/device/sign-in');
      const wrong = await agent.post('/device/sign-in', { username: 'alice', password: 'not-her-password' });
      expectPage(wrong, 401);
      expect(alertText(wrong.html)).toBe(WRONG_SIGN_IN);
      expect(inputValue(wrong.html, 'username')).toBe('alice');
      const unknown = await agent.post('/device/sign-in', { username: '<i>mallory</i>', password: 'whatever' });
      expectPage(unknown, 401);
      expect(alertText(unknown.html)).toBe(WRONG_SIGN_IN);
      expect(unknown.html).not.toContain('<i>mallory</i>');
      expect(inputValue(unknown.html, 'username')).toBe('<i>mallory</i>');
      expect(sessionPayload(agent.cookie('devicegate')).subject).toBeNull();
    });

    it('the right password: 303 and a new session (fixation defence) that keeps the entered code', async () => {
      const codes = await authorize();
      const agent = new Agent(server.url);
      await enterCode(agent, codes.user_code);
      const before = sessionPayload(agent.cookie('devicegate'));
      const plantedCsrf = agent.csrf!;
      const page = await agent.post('/device/sign-in', { username: 'alice', password: TEST_USERS.alice });
      expectRedirect(page, '/device/confirm');
      expect(page.setCookies).toHaveLength(1);
      const after = sessionPayload(agent.cookie('devicegate'));
      expect(after).toMatchObject({ subject: 'alice', userCode: before.userCode });
      expect(after.id).not.toBe(before.id);
      // The CSRF token of the planted (pre-sign-in) session is worth nothing now.
      expect((await agent.post('/device/confirm', { decision: 'approve' }, { csrf: plantedCsrf })).status).toBe(403);
      expect((await grantOf(codes))?.status).toBe('pending');
      const confirm = await agent.get('/device/confirm');
      expect(agent.csrf).not.toBe(plantedCsrf);
      expectPage(confirm, 200);
    });

    it('signed in without a code: back to the code form, which shows who is signed in', async () => {
      const agent = new Agent(server.url);
      expectRedirect(await signIn(agent, 'bob'), '/device');
      expectRedirect(await agent.get('/device/sign-in'), '/device');
      const page = await agent.get('/device');
      expect(page.text).toContain('Signed in as bob');
      expect(page.html).toMatch(/<form method="post" action="\/device\/sign-out">[\s\S]*?name="csrf"[\s\S]*?>Sign out<\/button>/);
    });

    it('sign-out starts an anonymous session with a new id; the confirmation then needs a sign-in again', async () => {
      const codes = await authorize();
      const agent = new Agent(server.url);
      await signIn(agent);
      expectRedirect(await enterCode(agent, codes.user_code), '/device/confirm');
      const signedIn = sessionPayload(agent.cookie('devicegate'));
      const out = await agent.post('/device/sign-out', {});
      expectRedirect(out, '/device');
      const after = sessionPayload(agent.cookie('devicegate'));
      expect(after).toMatchObject({ subject: null, userCode: null });
      expect(after.id).not.toBe(signedIn.id);
      expectRedirect(await agent.get('/device/confirm'), '/device/sign-in');
      expect((await agent.get('/device')).text).not.toContain('Signed in as');
    });
  });

  describe('the confirmation page (RFC 8628 §5.4)', () => {
    it('shows the client, the scopes in words, the resource, when, from where, the code, the warning and both buttons', async () => {
      const codes = await authorize(server, { client_id: 'demo-cli', scope: 'openid profile mcp:tools', resource: 'https://mcp.example.com/' });
      const grant = (await grantOf(codes))!;
      const { page } = await atConfirmation(codes);
      expect(page.html).toContain('<h1>Allow Demo CLI to access your account?</h1>');
      expect(page.text).toContain('Application Demo CLI (demo-cli)');
      expect(page.text).toContain('Know who you are (your account identifier) (openid)');
      expect(page.text).toContain('See your name and basic profile (profile)');
      expect(page.text).toContain('Use MCP tools on your behalf (mcp:tools)');
      expect(page.text).toContain('For https://mcp.example.com/');
      const requestedAt = new Date(grant.createdAt).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
      expect(page.text).toContain(`Requested 0 seconds ago (${requestedAt})`);
      expect(page.text).toContain(`From 127.0.0.1 ${USER_AGENT}`);
      expect(page.html).toContain(`<div class="code-display" aria-label="Code">${codes.user_code}</div>`);
      expect(page.text).toContain('Only continue if you started this yourself, just now, on a device you trust');
      expect(page.text).toContain('If someone sent you this code or link, choose Deny.');
      expect(page.html).toMatch(/<form method="post" action="\/device\/confirm">\s*<input type="hidden" name="csrf" value="[A-Za-z0-9_-]{43}">/);
      expect(page.html).toMatch(/<button type="submit" name="decision" value="approve" class="primary">Approve<\/button>/);
      expect(page.html).toMatch(/<button type="submit" name="decision" value="deny" class="danger">Deny<\/button>/);
      expect(page.text).toContain('Signed in as alice');
    });

    it.each([
      [1_000, '1 second ago'],
      [59_000, '59 seconds ago'],
      [60_000, '1 minute ago'],
      [89_000, '1 minute ago'],
      [150_000, '3 minutes ago'],
    ])('after %i ms says "Requested %s"; without resources it names this server', async (elapsed, ago) => {
      const codes = await authorize(server, { client_id: 'demo-cli', scope: 'openid' });
      server.clock.advance(elapsed);
      const { page } = await atConfirmation(codes);
      expect(page.text).toContain(`Requested ${ago} (`);
      expect(page.text).toContain('For This server');
    });

    it('without a code in the session redirects to /device; a user_code in the URL is not accepted', async () => {
      const codes = await authorize();
      const agent = new Agent(server.url);
      await signIn(agent);
      expectRedirect(await agent.get(`/device/confirm?user_code=${codes.user_code}`), '/device');
      await agent.get('/device'); // a page of the signed-in session: its CSRF token
      expectRedirect(await agent.post(`/device/confirm?user_code=${codes.user_code}`, { decision: 'approve', user_code: codes.user_code }), '/device');
      expect((await grantOf(codes))?.status).toBe('pending');
    });

    it('signed out, redirects to sign in', async () => {
      const codes = await authorize();
      const agent = new Agent(server.url);
      await enterCode(agent, codes.user_code);
      expectRedirect(await agent.get('/device/confirm'), '/device/sign-in');
      expectRedirect(await agent.post('/device/confirm', { decision: 'approve' }), '/device/sign-in');
      expect((await grantOf(codes))?.status).toBe('pending');
    });

    it('Approve: the approved page; the grant records alice and the scopes; the CLI gets tokens', async () => {
      const codes = await authorize();
      const { agent } = await atConfirmation(codes);
      const page = await agent.post('/device/confirm', { decision: 'approve' });
      expectPage(page, 200);
      expect(page.html).toContain('<h1>Device connected</h1>');
      expect(page.text).toContain('You can return to your terminal');
      expect(await grantOf(codes)).toMatchObject({ status: 'approved', subject: 'alice', scope: ['openid', 'mcp:tools'], decidedAt: server.clock.now() });
      expect(sessionPayload(agent.cookie('devicegate'))).toMatchObject({ subject: 'alice', userCode: null });
      const tokens = await poll(codes);
      expect(tokens.status).toBe(200);
      expect(tokens.body).toMatchObject({ token_type: 'Bearer', scope: 'openid mcp:tools' });
      // The code is spent: a second click, or another person, cannot decide again.
      expectRedirect(await agent.post('/device/confirm', { decision: 'deny' }), '/device');
      expect(alertText((await enterCode(new Agent(server.url), codes.user_code)).html)).toBe(GENERIC);
    });

    it('Deny: the denied page; the token endpoint answers access_denied', async () => {
      const codes = await authorize();
      const { agent } = await atConfirmation(codes, server, 'bob');
      const page = await agent.post('/device/confirm', { decision: 'deny' });
      expectPage(page, 200);
      expect(page.html).toContain('<h1>Request denied</h1>');
      expect(await grantOf(codes)).toMatchObject({ status: 'denied', subject: null });
      const tokens = await poll(codes);
      expect({ status: tokens.status, error: tokens.body.error }).toEqual({ status: 400, error: 'access_denied' });
    });

    it('a decision other than approve or deny: 400, nothing decided', async () => {
      const codes = await authorize();
      const { agent } = await atConfirmation(codes);
      for (const decision of ['', 'APPROVE', 'yes']) {
        const page = await agent.post('/device/confirm', { decision });
        expectPage(page, 400);
        expect(page.text).toContain('Choose Approve or Deny.');
      }
      expect((await grantOf(codes))?.status).toBe('pending');
      expectPage(await agent.get('/device/confirm'), 200);
    });

    it('the code expires while the page is open: GET and POST show the invalid page, nothing approved', async () => {
      const viewed = await authorize();
      const posted = await authorize();
      const first = await atConfirmation(viewed);
      const second = await atConfirmation(posted);
      server.clock.advance((viewed.expires_in + 1) * 1000);

      const page = await first.agent.get('/device/confirm');
      expectPage(page, 400);
      expect(page.html).toContain('<h1>Code not valid</h1>');
      expect(page.html).toContain('<a href="/device">Enter another code</a>');
      expect(sessionPayload(first.agent.cookie('devicegate')).userCode).toBeNull();

      const approve = await second.agent.post('/device/confirm', { decision: 'approve' });
      expectPage(approve, 400);
      expect(approve.html).toContain('<h1>Code not valid</h1>');
      expect((await grantOf(posted))?.status).toBe('pending');
      expect((await poll(posted)).body.error).toBe('expired_token');
    });

    it('another person decided first: the second Approve shows the invalid page and changes nothing', async () => {
      const codes = await authorize();
      const alice = await atConfirmation(codes, server, 'alice');
      const bob = await atConfirmation(codes, server, 'bob');
      expect((await bob.agent.post('/device/confirm', { decision: 'deny' })).html).toContain('Request denied');
      const late = await alice.agent.post('/device/confirm', { decision: 'approve' });
      expectPage(late, 400);
      expect(late.html).toContain('<h1>Code not valid</h1>');
      expect(await grantOf(codes)).toMatchObject({ status: 'denied', subject: null });
    });
  });

  describe('CSRF', () => {
    const CSRF_PAGE = 'This form has expired or was sent from elsewhere.';

    it.each([
      ['without a token', null],
      ['with a wrong token', 'A'.repeat(43)],
      ['with a token of another length', 'x'],
    ] as const)('POST %s: 403 on every form, nothing changes', async (_, csrf) => {
      const codes = await authorize();
      // Entering the code.
      const entering = new Agent(server.url);
      await signIn(entering);
      await entering.get('/device');
      const enter = await entering.post('/device', { user_code: codes.user_code }, { csrf });
      expectPage(enter, 403);
      expect(enter.text).toContain(CSRF_PAGE);
      expect(sessionPayload(entering.cookie('devicegate')).userCode).toBeNull();
      expectRedirect(await entering.get('/device/confirm'), '/device');
      // Signing in.
      const signingIn = new Agent(server.url);
      await signingIn.get('/device/sign-in');
      expectPage(await signingIn.post('/device/sign-in', { username: 'alice', password: TEST_USERS.alice }, { csrf }), 403);
      expect(sessionPayload(signingIn.cookie('devicegate')).subject).toBeNull();
      // Deciding.
      const { agent } = await atConfirmation(codes);
      for (const decision of ['approve', 'deny']) expectPage(await agent.post('/device/confirm', { decision }, { csrf }), 403);
      expect(await grantOf(codes)).toMatchObject({ status: 'pending', subject: null });
      // Signing out.
      expectPage(await agent.post('/device/sign-out', {}, { csrf }), 403);
      expect(sessionPayload(agent.cookie('devicegate')).subject).toBe('alice');
      expectPage(await agent.get('/device/confirm'), 200);
    });

    it("another session's token is rejected, and so is a token sent without any session cookie", async () => {
      const codes = await authorize();
      const attacker = new Agent(server.url);
      await attacker.get('/device');
      const attackerToken = attacker.csrf!;
      const { agent } = await atConfirmation(codes);
      expect(agent.csrf).not.toBe(attackerToken);
      expectPage(await agent.post('/device/confirm', { decision: 'approve' }, { csrf: attackerToken }), 403);
      // A cross-site form carries the attacker's token but (SameSite=Lax) none of the victim's cookies.
      expectPage(await new Agent(server.url).post('/device/confirm', { decision: 'approve' }, { csrf: agent.csrf! }), 403);
      expect((await grantOf(codes))?.status).toBe('pending');
      expectPage(await agent.post('/device/confirm', { decision: 'approve' }), 200);
      expect((await grantOf(codes))?.status).toBe('approved');
    });

    it('a body that is not a form: 400 page, not JSON', async () => {
      const agent = new Agent(server.url);
      await agent.get('/device');
      const response = await fetch(`${server.url}/device`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: `devicegate=${agent.cookie('devicegate')}` },
        body: JSON.stringify({ user_code: 'WDJB-MJHT', csrf: agent.csrf }),
      });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('content-security-policy')).toBe(CSP);
      expect(await response.text()).toContain('The form could not be read.');
    });
  });

  describe('the session cookie', () => {
    it('is HttpOnly, SameSite=Lax, Path=/device, with a Max-Age of the session TTL and no Secure on http', async () => {
      const page = await new Agent(server.url).get('/device');
      expect(page.setCookies).toHaveLength(1);
      const [pair, ...attributes] = page.setCookies[0]!.split('; ');
      expect(pair).toMatch(/^devicegate=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
      expect(attributes.sort()).toEqual(['HttpOnly', 'Max-Age=3600', 'Path=/device', 'SameSite=Lax']);
    });

    it('behind an https issuer: __Secure-devicegate with Secure, and it is read back', async () => {
      const clock = new ManualClock(Date.now());
      const secure = await startServer(
        {
          port: await freePort(),
          host: '127.0.0.1',
          issuer: 'https://auth.example.com', // TLS ends at a proxy in front; this process speaks http
          redisUrl: undefined,
          configPath: '(test)',
          dataDir: mkdtempSync(join(tmpdir(), 'devicegate-data-')),
          logLevel: 'silent',
          trustProxy: false,
          file: await verificationConfig({}),
        },
        { clock, stores: await testStores(kind, clock, redis), logger: pino({ level: 'silent' }) },
      );
      try {
        const agent = new Agent(secure.url);
        const page = await agent.get('/device');
        const [pair, ...attributes] = page.setCookies[0]!.split('; ');
        expect(pair).toMatch(/^__Secure-devicegate=/);
        expect(attributes.sort()).toEqual(['HttpOnly', 'Max-Age=3600', 'Path=/device', 'SameSite=Lax', 'Secure']);
        expectRedirect(await agent.post('/device/sign-in', { username: 'alice', password: TEST_USERS.alice }), '/device');
        expect(sessionPayload(agent.cookie('__Secure-devicegate')).subject).toBe('alice');
        expect((await agent.get('/device')).text).toContain('Signed in as alice');
        // The plain name is not read on an https deployment.
        const plain = new Agent(secure.url);
        plain.setCookie('devicegate', agent.cookie('__Secure-devicegate')!);
        expect((await plain.get('/device')).text).not.toContain('Signed in as');
      } finally {
        await secure.close();
      }
    });

    it('a tampered cookie is an anonymous session (a forged subject signs nobody in)', async () => {
      const codes = await authorize();
      const agent = new Agent(server.url);
      await enterCode(agent, codes.user_code);
      const [payload, signature] = agent.cookie('devicegate')!.split('.');
      const session = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'));
      const forged = Buffer.from(JSON.stringify({ ...session, subject: 'alice' })).toString('base64url');
      agent.setCookie('devicegate', `${forged}.${signature}`);
      expectRedirect(await agent.get('/device/confirm'), '/device/sign-in');
      expect(sessionPayload(agent.cookie('devicegate'))).toMatchObject({ subject: null, userCode: null });
      expect(sessionPayload(agent.cookie('devicegate')).id).not.toBe(session.id);
    });

    it('an expired session is anonymous', async () => {
      const agent = new Agent(server.url);
      await signIn(agent);
      server.clock.advance(3_600_000 + 1_000);
      expectRedirect(await agent.get('/device/confirm'), '/device/sign-in');
      expect(sessionPayload(agent.cookie('devicegate')).subject).toBeNull();
    });
  });

  describe('security headers', () => {
    it('on every page state, including errors and the limit page', async () => {
      const limited = await anotherServer(await verificationConfig({ failed_code_entries: { per_ip: 1, per_account: 100, window: 60 } }));
      const codes = await authorize();
      const agent = new Agent(server.url);
      const pages: PageResponse[] = [
        await agent.get('/device'),
        await agent.get('/device/'),
        await agent.get(`/device?user_code=${codes.user_code}`),
        await agent.post('/device', { user_code: 'x' }),
        await agent.post('/device', { user_code: UNKNOWN_CODES[1]! }),
        await agent.post('/device', { user_code: codes.user_code }, { csrf: null }),
        await agent.post('/device', { user_code: codes.user_code }),
        await agent.get('/device/sign-in'),
        await agent.post('/device/sign-in', { username: 'alice', password: 'wrong' }),
        await agent.post('/device/sign-in', { username: 'alice', password: TEST_USERS.alice }),
        await agent.get('/device/confirm'),
        await agent.post('/device/confirm', { decision: 'maybe' }),
        await agent.post('/device/confirm', { decision: 'approve' }),
        await agent.get('/device/confirm'),
        await agent.post('/device/sign-out', {}),
      ];
      const limiting = new Agent(limited.url);
      await limiting.get('/device');
      pages.push(await limiting.post('/device', { user_code: UNKNOWN_CODES[2]! }));
      const limitPage = await limiting.post('/device', { user_code: UNKNOWN_CODES[3]! });
      expect(limitPage.status).toBe(429);
      pages.push(limitPage);
      expect(pages.map((p) => p.status)).toEqual([200, 200, 200, 400, 400, 403, 303, 200, 401, 303, 200, 400, 200, 303, 303, 400, 429]);
      for (const page of pages) expectPageHeaders(page);
    });

    it('the path is case-sensitive like the cookie: /DEVICE is not a page without headers', async () => {
      for (const path of ['/DEVICE', '/Device/sign-in', '/device/CONFIRM']) {
        const response = await fetch(`${server.url}${path}`, { redirect: 'manual' });
        expect(response.status, path).toBe(404);
        expect(response.headers.get('content-type')).not.toContain('text/html');
      }
    });

    it('the stylesheet is served to the CSP (style-src self), cacheable, as text/css', async () => {
      const response = await fetch(`${server.url}/device/style.css`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/css; charset=utf-8');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await response.text()).toContain('.code-display');
    });
  });

  describe('escaping', () => {
    it('a client_name and a user agent with <script> are rendered as text', async () => {
      const base = await verificationConfig({ failed_code_entries: { per_ip: 1000, per_account: 1000, window: 900 } });
      const evilName = '<script>alert("name")</script> & Co';
      const evilAgent = `Mozilla/5.0 <script>alert('ua')</script><img src=x onerror=alert(1)>`;
      const file = parseConfigFile(
        JSON.stringify({
          ...base,
          clients: [...base.clients, { client_id: 'evil-cli', client_name: evilName, grant_types: [DEVICE_GRANT], scope: 'openid <b>bold</b>' }],
        }),
      );
      const evil = await anotherServer(file);
      const codes = await authorize(evil, { client_id: 'evil-cli', scope: 'openid <b>bold</b>' }, evilAgent);
      const { page } = await atConfirmation(codes, evil);
      expect(page.html).not.toMatch(/<script|<img|<b>/i);
      expect(page.html).toContain('&#60;script&#62;alert(&#34;name&#34;)&#60;/script&#62; &#38; Co');
      expect(page.text).toContain(`Allow ${evilName} to access your account?`);
      expect(page.text).toContain(evilAgent);
      expect(page.text).toContain('<b>bold</b>');
    });
  });

  describe('trusted-header mode (SSO reverse proxy)', () => {
    let proxied: TestServer;
    beforeAll(async () => {
      proxied = await anotherServer(await verificationConfig({ trusted_header: 'X-Forwarded-User' }));
    });

    it('with the header: straight to the confirmation, and the approval records that subject', async () => {
      const codes = await authorize(proxied);
      const agent = new Agent(proxied.url, { 'X-Forwarded-User': 'carol@example.com' });
      expectRedirect(await enterCode(agent, sloppy(codes.user_code)), '/device/confirm');
      expectRedirect(await agent.get('/device/sign-in'), '/device/confirm');
      const page = await agent.get('/device/confirm');
      expectPage(page, 200);
      expect(page.text).not.toContain('Signed in as'); // the proxy owns sign-in and sign-out
      expectPage(await agent.post('/device/confirm', { decision: 'approve' }), 200);
      expect(await grantOf(codes, proxied)).toMatchObject({ status: 'approved', subject: 'carol@example.com' });
    });

    it('without the header: the sign-in page', async () => {
      const codes = await authorize(proxied);
      const agent = new Agent(proxied.url);
      expectRedirect(await enterCode(agent, codes.user_code), '/device/sign-in');
      expectPage(await agent.get('/device/sign-in'), 200);
      // An empty header is no header.
      expectRedirect(await agent.get('/device/confirm', { 'X-Forwarded-User': '   ' }), '/device/sign-in');
    });

    it('is off unless configured: the header signs nobody in on a default server', async () => {
      const codes = await authorize();
      const agent = new Agent(server.url, { 'X-Forwarded-User': 'alice' });
      expectRedirect(await enterCode(agent, codes.user_code), '/device/sign-in');
    });
  });

  describe('brute-force limits (RFC 8628 §5.1)', () => {
    const tooMany = (page: PageResponse, wait: RegExp) => {
      expectPage(page, 429);
      expect(page.html).toContain('<h1>Too many attempts</h1>');
      expect(page.text).toMatch(wait);
    };

    it('default limit: the 11th wrong code from one IP gets 429 "Try again in 15 minutes", even a right code', async () => {
      const limited = await anotherServer(await verificationConfig({}));
      const agent = new Agent(limited.url);
      await agent.get('/device');
      for (let i = 0; i < 10; i++) {
        const page = await agent.post('/device', { user_code: UNKNOWN_CODES[i % UNKNOWN_CODES.length]! });
        expect(page.status, `attempt ${i + 1}`).toBe(400);
      }
      tooMany(await agent.post('/device', { user_code: UNKNOWN_CODES[0]! }), /Too many wrong attempts\. Try again in 15 minutes\./);
      const codes = await authorize(limited);
      tooMany(await agent.post('/device', { user_code: codes.user_code }), /Try again in 15 minutes/);
      // Per IP, not per session: a fresh browser on the same address is limited too.
      tooMany(await enterCode(new Agent(limited.url), codes.user_code), /Try again in \d+ minutes/);
      expect((await grantOf(codes, limited))?.status).toBe('pending');
    });

    it('parallel guesses cannot overshoot the limit: of 40 at once with per_ip 3, exactly 3 are looked up', async () => {
      const limited = await anotherServer(await verificationConfig({ failed_code_entries: { per_ip: 3, per_account: 100, window: 60 } }));
      const agent = new Agent(limited.url);
      await agent.get('/device');
      const pages = await Promise.all(Array.from({ length: 40 }, (_, i) => agent.post('/device', { user_code: UNKNOWN_CODES[i % 8]! })));
      expect(pages.filter((page) => page.status === 400)).toHaveLength(3);
      const refused = pages.filter((page) => page.status === 429);
      expect(refused).toHaveLength(37);
      expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
    });

    it('a small window says 1 minute; malformed codes consume nothing', async () => {
      const limited = await anotherServer(await verificationConfig({ failed_code_entries: { per_ip: 3, per_account: 100, window: 60 } }));
      const agent = new Agent(limited.url);
      await agent.get('/device');
      for (let i = 0; i < 8; i++) {
        const page = await agent.post('/device', { user_code: `typo-${i}` });
        expect(alertText(page.html)).toBe(MALFORMED);
      }
      for (let i = 0; i < 3; i++) expect(alertText((await agent.post('/device', { user_code: UNKNOWN_CODES[i]! })).html)).toBe(GENERIC);
      tooMany(await agent.post('/device', { user_code: UNKNOWN_CODES[3]! }), /Try again in 1 minute\./);
      tooMany(await agent.post('/device', { user_code: 'typo' }), /Try again in 1 minute\./);
    });

    it('a successful entry does not reset the budget: fail 2, succeed, fail 1 → limited at per_ip 3', async () => {
      const limited = await anotherServer(await verificationConfig({ failed_code_entries: { per_ip: 3, per_account: 100, window: 60 } }));
      const agent = new Agent(limited.url);
      await agent.get('/device');
      expect((await agent.post('/device', { user_code: UNKNOWN_CODES[0]! })).status).toBe(400);
      expect((await agent.post('/device', { user_code: UNKNOWN_CODES[1]! })).status).toBe(400);
      const own = await authorize(limited);
      expectRedirect(await agent.post('/device', { user_code: own.user_code }), '/device/sign-in');
      await agent.get('/device');
      expect((await agent.post('/device', { user_code: UNKNOWN_CODES[2]! })).status).toBe(400);
      const another = await authorize(limited);
      tooMany(await agent.post('/device', { user_code: another.user_code }), /Try again in 1 minute/);
    });

    it('per signed-in account: after per_account failures that account is limited, another one and signed-out entry are not', async () => {
      const limited = await anotherServer(await verificationConfig({ failed_code_entries: { per_ip: 1000, per_account: 3, window: 900 } }));
      const alice = new Agent(limited.url);
      await signIn(alice);
      await alice.get('/device');
      for (let i = 0; i < 3; i++) expect((await alice.post('/device', { user_code: UNKNOWN_CODES[i]! })).status).toBe(400);
      const codes = await authorize(limited);
      tooMany(await alice.post('/device', { user_code: codes.user_code }), /Try again in 15 minutes/);
      // A new browser signed in as alice carries the same account budget.
      const aliceAgain = new Agent(limited.url);
      await signIn(aliceAgain);
      tooMany(await enterCode(aliceAgain, codes.user_code), /Try again in 15 minutes/);
      // Same IP, other account / no account: still allowed.
      const bob = new Agent(limited.url);
      await signIn(bob, 'bob');
      expectRedirect(await enterCode(bob, codes.user_code), '/device/confirm');
      expectRedirect(await enterCode(new Agent(limited.url), codes.user_code), '/device/sign-in');
    });

    it('sign-in failures are limited per IP', async () => {
      const limited = await anotherServer(
        await verificationConfig({ failed_sign_ins: { per_ip: 3, per_account: 100, window: 60 } }),
      );
      const agent = new Agent(limited.url);
      await agent.get('/device/sign-in');
      for (const username of ['alice', 'bob', 'nobody']) {
        expectPage(await agent.post('/device/sign-in', { username, password: 'guess' }), 401);
      }
      tooMany(await agent.post('/device/sign-in', { username: 'alice', password: TEST_USERS.alice }), /Try again in 1 minute/);
      expect(sessionPayload(agent.cookie('devicegate')).subject).toBeNull();
    });

    it('sign-in failures are limited per username: alice is locked, bob is not', async () => {
      const limited = await anotherServer(
        await verificationConfig({ failed_sign_ins: { per_ip: 1000, per_account: 2, window: 900 } }),
      );
      const agent = new Agent(limited.url);
      await agent.get('/device/sign-in');
      for (let i = 0; i < 2; i++) expectPage(await agent.post('/device/sign-in', { username: 'alice', password: `guess-${i}` }), 401);
      tooMany(await agent.post('/device/sign-in', { username: 'alice', password: TEST_USERS.alice }), /Try again in 15 minutes/);
      expectRedirect(await agent.post('/device/sign-in', { username: 'bob', password: TEST_USERS.bob }), '/device');
    });
  });
});

// Not per store: it starts a Redis of its own to stop (a private redis-server is needed for that).
describe('verification pages while Redis is unreachable', () => {
  it(
    'code entry and sign-in answer a 503 "Temporarily unavailable" page (the limiter fails closed), and recover',
    async () => {
      const own = await startTestRedis(); // stopped below: not the one the other tests share
      const outage = await startTestServer('redis', own, undefined, await verificationConfig({}));
      try {
        const agent = new Agent(outage.url);
        await agent.get('/device');
        await own.stop();
        for (const page of [
          await agent.post('/device', { user_code: UNKNOWN_CODES[0]! }),
          await agent.post('/device', { user_code: 'typo' }),
          await agent.post('/device/sign-in', { username: 'alice', password: TEST_USERS.alice }),
        ]) {
          expectPage(page, 503);
          expect(page.html).toContain('<h1>Temporarily unavailable</h1>');
        }
        expect(sessionPayload(agent.cookie('devicegate')).subject).toBeNull();
        expectPage(await agent.get('/device'), 200); // the form itself needs no store
        await own.start();
        await expect
          .poll(async () => (await agent.post('/device', { user_code: UNKNOWN_CODES[0]! })).status, { timeout: 10_000, interval: 200 })
          .toBe(400);
      } finally {
        await outage.close();
        await own.close();
      }
    },
  );
});
