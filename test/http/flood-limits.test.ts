import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { limiterRejections } from '../../src/metrics.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { expectOAuthError } from '../support/oauth.js';
import { basic, CONFIDENTIAL_SECRET, form, type StoreKind, startTestServer, capturingLogger, testConfig, testConfigFile, type TestServer, testStores } from '../support/server.js';

const FORM = 'application/x-www-form-urlencoded';

/**
 * Issue 10 item 3: device authorization (each creates a grant) is limited per client IP and per
 * client; failed client authentication (each costs an scrypt) per client IP and per client. Over the
 * limit: 429, Retry-After, an RFC 6749 §5.2 body with `slow_down`. The same on both stores.
 */
describe.each(['memory', 'redis'] as StoreKind[])('flood limits on the %s store', (kind) => {
  let redis: TestRedis | undefined;
  const servers: TestServer[] = [];

  beforeAll(async () => {
    if (kind === 'redis') redis = await startTestRedis();
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    await redis?.close();
  });

  async function serverWith(rateLimits: Record<string, unknown>): Promise<TestServer> {
    const file = await testConfigFile({ rate_limits: rateLimits });
    const server = await startTestServer(kind, redis, undefined, file);
    servers.push(server);
    return server;
  }

  const generous = { per_ip: 1_000, per_client: 1_000, window: 60 };
  const authorize = (server: TestServer, clientId: string) =>
    fetch(`${server.url}/oauth/device/authorize`, { method: 'POST', headers: { 'content-type': FORM }, body: form({ client_id: clientId }) });
  const introspect = (server: TestServer, secret: string) =>
    fetch(`${server.url}/oauth/introspect`, {
      method: 'POST',
      headers: { 'content-type': FORM, authorization: basic('basic-service', secret) },
      body: form({ token: 'x' }),
    });

  async function expectLimited(response: Response): Promise<void> {
    const retryAfter = response.headers.get('retry-after');
    await expectOAuthError(response, 429, 'slow_down');
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(Number(retryAfter))).toBe(true);
  }

  it('limits device authorization per client IP', async () => {
    const server = await serverWith({
      device_authorization: { per_ip: 3, per_client: 1_000, window: 60 },
      failed_client_authentication: generous,
    });
    for (let i = 0; i < 3; i++) expect((await authorize(server, i % 2 ? 'demo-cli' : 'fast-cli')).status).toBe(200);
    await expectLimited(await authorize(server, 'demo-cli'));
    await expectLimited(await authorize(server, 'slow-cli'));
  });

  it('limits device authorization per client, whatever the IP; other clients go on', async () => {
    const server = await serverWith({
      device_authorization: { per_ip: 1_000, per_client: 2, window: 60 },
      failed_client_authentication: generous,
    });
    expect((await authorize(server, 'demo-cli')).status).toBe(200);
    expect((await authorize(server, 'demo-cli')).status).toBe(200);
    await expectLimited(await authorize(server, 'demo-cli'));
    expect((await authorize(server, 'fast-cli')).status).toBe(200);
  });

  it('does not count refused requests: an unknown client is invalid_client, not a grant', async () => {
    const server = await serverWith({
      device_authorization: { per_ip: 2, per_client: 1_000, window: 60 },
      failed_client_authentication: generous,
    });
    for (let i = 0; i < 5; i++) await expectOAuthError(await authorize(server, 'nobody'), 401, 'invalid_client');
    expect((await authorize(server, 'demo-cli')).status).toBe(200);
  });

  it('limits failed client authentications per client IP: the next attempt is 429 without a secret check', async () => {
    const server = await serverWith({
      device_authorization: generous,
      failed_client_authentication: { per_ip: 3, per_client: 1_000, window: 60 },
    });
    for (let i = 0; i < 3; i++) await expectOAuthError(await introspect(server, `wrong-${i}`), 401, 'invalid_client');
    await expectLimited(await introspect(server, 'wrong-again'));
    // Locked: even the right secret is not checked (it was never verified on this instance).
    await expectLimited(await introspect(server, CONFIDENTIAL_SECRET));
  });

  it('limits failed client authentications per client; a right secret verified before keeps working', async () => {
    const server = await serverWith({
      device_authorization: generous,
      failed_client_authentication: { per_ip: 1_000, per_client: 2, window: 60 },
    });
    expect((await introspect(server, CONFIDENTIAL_SECRET)).status).toBe(200);
    for (let i = 0; i < 2; i++) await expectOAuthError(await introspect(server, `wrong-${i}`), 401, 'invalid_client');
    await expectLimited(await introspect(server, 'wrong-again'));
    // The legitimate client is not locked out by an attacker who knows only its client_id: its
    // secret was verified (and cached) before the flood.
    expect((await introspect(server, CONFIDENTIAL_SECRET)).status).toBe(200);
    // A successful authentication gives no budget back to the attacker.
    await expectLimited(await introspect(server, 'wrong-after'));
  });

  it('unknown client ids count per IP only', async () => {
    const server = await serverWith({
      device_authorization: generous,
      failed_client_authentication: { per_ip: 2, per_client: 1_000, window: 60 },
    });
    const unknown = (id: string) =>
      fetch(`${server.url}/oauth/introspect`, {
        method: 'POST',
        headers: { 'content-type': FORM, authorization: basic(id, 'whatever') },
        body: form({ token: 'x' }),
      });
    await expectOAuthError(await unknown('ghost-1'), 401, 'invalid_client');
    await expectOAuthError(await unknown('ghost-2'), 401, 'invalid_client');
    await expectLimited(await unknown('ghost-3'));
    if (kind === 'redis') {
      // No key per unknown client id: a flood of made-up ids cannot fill Redis with limiter keys.
      const { Redis } = await import('ioredis');
      const connection = new Redis(redis!.url);
      const keys = await connection.keys('*limit:client_auth:account:ghost*');
      await connection.quit();
      expect(keys).toEqual([]);
    }
  });
});

/**
 * The device authorization limit's refusal looks the same whichever path counts it (the limiter on the
 * memory store and on a Redis Cluster, create-grant.lua on a standalone Redis): 429, Retry-After, the
 * limiter-rejection metric and a `lockout` audit line; and on a standalone Redis a device authorization
 * is one EVALSHA, limit included.
 */
describe.each(['memory', 'redis'] as StoreKind[])('device authorization refused over the limit on the %s store', (kind) => {
  let redis: TestRedis | undefined;
  let server: RunningServer;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    if (kind === 'redis') redis = await startTestRedis();
    const file = await testConfigFile({
      rate_limits: {
        device_authorization: { per_ip: 1_000, per_client: 3, window: 60 },
        failed_client_authentication: { per_ip: 1_000, per_client: 1_000, window: 60 },
      },
    });
    const clock = new ManualClock(Date.now());
    server = await startServer(await testConfig({ logLevel: 'info', file }), {
      clock,
      stores: await testStores(kind, clock, redis),
      logger: capturingLogger(lines),
    });
  });
  afterAll(async () => {
    await server?.close();
    await redis?.close();
  });

  const authorize = () =>
    fetch(`${server.url}/oauth/device/authorize`, { method: 'POST', headers: { 'content-type': FORM }, body: form({ client_id: 'demo-cli' }) });
  const rejections = async () =>
    (await limiterRejections.get()).values.find((value) => value.labels.limiter === 'device_authorization')?.value ?? 0;

  it('answers 429 slow_down with Retry-After, counts the rejection and audits the lockout', async () => {
    for (let i = 0; i < 3; i++) expect((await authorize()).status).toBe(200);
    const before = await rejections();
    const response = await authorize();
    const retryAfter = Number(response.headers.get('retry-after'));
    await expectOAuthError(response, 429, 'slow_down');
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await rejections()).toBe(before + 1);
    expect(lines.filter((line) => line.name === 'audit' && line.event === 'lockout').at(-1)).toMatchObject({
      limiter: 'device_authorization',
      client_id: 'demo-cli',
      retry_after: retryAfter,
    });
  });
});

describe('device authorization on a standalone Redis', () => {
  let redis: TestRedis;
  let server: TestServer;
  beforeAll(async () => {
    redis = await startTestRedis();
    server = await startTestServer('redis', redis, undefined, await testConfigFile({
      rate_limits: {
        device_authorization: { per_ip: 1_000, per_client: 2, window: 60 },
        failed_client_authentication: { per_ip: 1_000, per_client: 1_000, window: 60 },
      },
    }));
  });
  afterAll(async () => {
    await server?.close();
    await redis?.close();
  });

  it('is one EVALSHA per request, limit included; over the limit still 429 with Retry-After', async () => {
    const inspector = new Redis(redis.url);
    const authorize = () =>
      fetch(`${server.url}/oauth/device/authorize`, { method: 'POST', headers: { 'content-type': FORM }, body: form({ client_id: 'fast-cli' }) });
    try {
      await inspector.config('RESETSTAT');
      expect((await authorize()).status).toBe(200);
      const stats = await inspector.info('commandstats');
      const calls = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
      // The script may be loaded by this first call (EVALSHA → NOSCRIPT → EVAL): one EVALSHA either way.
      expect(calls('evalsha')).toBe(1);
      expect(calls('incr')).toBe(2); // both windows, inside the script
      expect(calls('incrby')).toBe(0); // rate-limiter-flexible's script did not run
      await inspector.config('RESETSTAT');
      expect((await authorize()).status).toBe(200);
      const refused = await authorize();
      const retryAfter = Number(refused.headers.get('retry-after'));
      await expectOAuthError(refused, 429, 'slow_down');
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
      const after = await inspector.info('commandstats');
      expect(/cmdstat_evalsha:calls=(\d+)/.exec(after)?.[1]).toBe('2');
      expect(after).not.toMatch(/cmdstat_eval:/);
    } finally {
      inspector.disconnect();
    }
  });
});
