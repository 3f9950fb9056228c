import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { normaliseUserCode } from '../../src/domain/codes.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { CONFIDENTIAL_SECRET, DEVICE_GRANT, form, TEST_USERS, capturingLogger, testConfig, testConfigFile, testStores } from '../support/server.js';
import { Agent } from '../ui/agent.js';

const FORM = 'application/x-www-form-urlencoded';

/**
 * Issue 10 item 6: one structured audit line per grant transition, with a request id, client,
 * subject and IP; and the memory store says it is single-process when it starts.
 */
describe('audit trail (memory store)', () => {
  const lines: Record<string, unknown>[] = [];
  const clock = new ManualClock(Date.now());
  let server: RunningServer;

  beforeAll(async () => {
    const file = await testConfigFile({
      rate_limits: {
        device_authorization: { per_ip: 1_000, per_client: 1_000, window: 60 },
        failed_client_authentication: { per_ip: 2, per_client: 1_000, window: 60 },
      },
    });
    const config = await testConfig({ logLevel: 'info', file });
    server = await startServer(config, { clock, stores: await testStores('memory', clock), logger: capturingLogger(lines) });
  });
  afterAll(async () => {
    await server?.close();
  });

  const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': FORM, ...headers }, body: form(fields) });
  const authorize = async () =>
    (await (await post('/oauth/device/authorize', { client_id: 'demo-cli' }, { 'x-request-id': 'req-issue-1' })).json()) as {
      device_code: string;
      user_code: string;
      expires_in: number;
    };
  const audit = (event: string) => lines.filter((line) => line.name === 'audit' && line.event === event);

  it('says the memory store is single-process when it starts', () => {
    expect(lines.some((line) => String(line.msg).includes('single process only'))).toBe(true);
  });

  it('issued: with the request id the caller sent, the client and the IP', async () => {
    await authorize();
    expect(audit('issued').at(-1)).toMatchObject({ request_id: 'req-issue-1', client_id: 'demo-cli', ip: '127.0.0.1', subject: null });
  });

  it('denied through the pages: client, subject, request id', async () => {
    const codes = await authorize();
    const agent = new Agent(server.url);
    await agent.get('/device/sign-in');
    await agent.post('/device/sign-in', { username: 'alice', password: TEST_USERS.alice });
    await agent.get('/device');
    await agent.post('/device', { user_code: codes.user_code });
    await agent.get('/device/confirm');
    await agent.post('/device/confirm', { decision: 'deny' });
    const [denied] = audit('denied');
    expect(denied).toMatchObject({ client_id: 'demo-cli', subject: 'alice', ip: '127.0.0.1' });
    // The same grant reference from issue to decision, and never the code itself.
    expect(denied!.grant).toBe(audit('issued').at(-1)!.grant);
    expect(denied!.grant).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(denied!.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('expired_on_poll', async () => {
    const codes = await authorize();
    clock.advance(codes.expires_in * 1000 + 1);
    const polled = await post('/oauth/token', { grant_type: DEVICE_GRANT, device_code: codes.device_code, client_id: 'demo-cli' });
    expect(((await polled.json()) as { error: string }).error).toBe('expired_token');
    expect(audit('expired_on_poll').at(-1)).toMatchObject({ client_id: 'demo-cli', ip: '127.0.0.1' });
  });

  it('redeemed, then refresh_reuse and revoked with the subject', async () => {
    const codes = await authorize();
    await server.stores.grants.decide(normaliseUserCode(codes.user_code)!, { kind: 'approve', subject: 'bob' }, clock.now());
    const redeemed = await post('/oauth/token', { grant_type: DEVICE_GRANT, device_code: codes.device_code, client_id: 'demo-cli' });
    const tokens = (await redeemed.json()) as { access_token: string; refresh_token: string };
    expect(audit('redeemed').at(-1)).toMatchObject({ client_id: 'demo-cli', subject: 'bob', ip: '127.0.0.1', grant: audit('issued').at(-1)!.grant });

    const refresh = () => post('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: 'demo-cli' });
    expect((await refresh()).status).toBe(200);
    expect((await refresh()).status).toBe(400);
    // The reused token is spent, so the store no longer names its subject; the family (grant_id) identifies the grant.
    const reuse = audit('refresh_reuse').at(-1)!;
    expect(reuse).toMatchObject({ client_id: 'demo-cli', ip: '127.0.0.1' });
    expect(reuse.grant_id).toBe(JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()).grant_id);

    await post('/oauth/revoke', { token: tokens.access_token, client_id: 'demo-cli' });
    expect(audit('revoked').at(-1)).toMatchObject({ client_id: 'demo-cli', subject: 'bob', token_type: 'access_token' });
  });

  it('lockout: failed client authentications over the limit', async () => {
    const wrong = () => post('/oauth/introspect', { token: 'x', client_id: 'post-service', client_secret: 'wrong' });
    expect((await wrong()).status).toBe(401);
    expect((await wrong()).status).toBe(401);
    expect((await wrong()).status).toBe(429);
    expect(audit('lockout').at(-1)).toMatchObject({ limiter: 'failed_client_authentication', client_id: 'post-service', ip: '127.0.0.1' });
  });

  it('never writes a code, token or secret', () => {
    const text = JSON.stringify(lines);
    expect(text).not.toContain(CONFIDENTIAL_SECRET);
    expect(text).not.toContain(TEST_USERS.alice);
    expect(text).not.toMatch(/"(device_code|user_code|access_token|refresh_token)":/);
  });
});
