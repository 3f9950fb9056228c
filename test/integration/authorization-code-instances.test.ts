import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigFile } from '../../src/config.js';
import { ManualClock } from '../../src/domain/clock.js';
import { s256Challenge } from '../../src/domain/pkce.js';
import { type RunningServer, type Stores, startServer } from '../../src/server.js';
import { connectRedis } from '../../src/store/redis/connection.js';
import { RedisDeviceGrantRepository } from '../../src/store/redis/grants.js';
import { keyBuilder, tokenKeyBuilder } from '../../src/store/redis/key-names.js';
import { RedisTokenRepository } from '../../src/store/redis/tokens.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { form, TEST_USERS, testConfig, testConfigFile } from '../support/server.js';
import { Agent } from '../ui/agent.js';

/**
 * Two instances on one Redis (one key prefix): a code approved on one is redeemed on the other, and
 * a replay on the first is refused and revokes what the second issued — the code, its single use and
 * the refresh family live only in Redis.
 */
describe('authorization codes across two instances on one Redis', () => {
  let redis: TestRedis;
  let first: RunningServer;
  let second: RunningServer;
  const clock = new ManualClock(Date.now());

  async function instance(prefix: string): Promise<RunningServer> {
    const connection = await connectRedis(redis.url);
    const stores: Stores = {
      grants: new RedisDeviceGrantRepository(connection, keyBuilder(prefix)),
      tokens: new RedisTokenRepository(connection, tokenKeyBuilder(prefix), { ownsConnection: false }),
      redis: connection,
      keyPrefix: prefix,
      close: async () => {
        connection.disconnect();
      },
    };
    const base = await testConfigFile();
    const file = parseConfigFile(
      JSON.stringify({
        ...base,
        clients: [
          ...base.clients,
          { client_id: 'browser-app', grant_types: ['authorization_code', 'refresh_token'], scope: 'openid', redirect_uris: ['http://127.0.0.1/cb'] },
        ],
      }),
    );
    const config = await testConfig({ file });
    return startServer(config, { clock, stores, logger: pino({ level: 'silent' }) });
  }

  beforeAll(async () => {
    redis = await startTestRedis();
    const prefix = redis.prefix();
    first = await instance(prefix);
    second = await instance(prefix);
  }, 60_000);
  afterAll(async () => {
    await first?.close();
    await second?.close();
    await redis?.close();
  });

  const token = (server: RunningServer, fields: Record<string, string>) =>
    fetch(`${server.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form(fields) });

  it('approve on one instance, redeem on the other; a replay on the first revokes the family', async () => {
    const verifier = randomBytes(40).toString('base64url');
    const agent = new Agent(first.url);
    await agent.get('/device/sign-in');
    await agent.post('/device/sign-in', { username: 'alice', password: TEST_USERS.alice });
    const entry = await agent.get(
      `/oauth/authorize?${form({ response_type: 'code', client_id: 'browser-app', redirect_uri: 'http://127.0.0.1:5000/cb', code_challenge: s256Challenge(verifier), code_challenge_method: 'S256', state: 'x' })}`,
    );
    await agent.get(entry.location!);
    await agent.get('/device/authorize/confirm');
    const decided = await agent.post('/device/authorize/confirm', { decision: 'approve' });
    const code = new URL(decided.location!).searchParams.get('code')!;
    const exchange = { grant_type: 'authorization_code', client_id: 'browser-app', code, code_verifier: verifier, redirect_uri: 'http://127.0.0.1:5000/cb' };

    const redeemed = await token(second, exchange);
    const tokens = (await redeemed.json()) as { refresh_token: string };
    expect(redeemed.status, JSON.stringify(tokens)).toBe(200);
    const replay = await token(first, exchange);
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as { error: string }).error).toBe('invalid_grant');
    const refreshed = await token(second, { grant_type: 'refresh_token', client_id: 'browser-app', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(400);
    expect(((await refreshed.json()) as { error: string }).error).toBe('invalid_grant');
  });
});
