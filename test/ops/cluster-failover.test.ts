import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Config, DEFAULT_OPERATIONS } from '../../src/config.js';
import { normaliseUserCode } from '../../src/domain/codes.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { connectRedisCluster } from '../../src/store/redis/connection.js';
import { RedisDeviceGrantRepository } from '../../src/store/redis/grants.js';
import { keyBuilder } from '../../src/store/redis/key-names.js';
import { hashDeviceCode } from '../../src/domain/codes.js';
import { startTestRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { freePort } from '../support/redis-server.js';
import { DEVICE_GRANT, form, testConfigFile } from '../support/server.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Issue 13: a master of the Redis Cluster dies in the middle of a load. The requests whose keys live on
 * its slots get 503 (retry) until its replica is promoted, never a 500; the others keep working; after
 * the promotion everything answers again; and no device_code is ever redeemed twice.
 */
describe('Redis Cluster failover under load', () => {
  let cluster: TestRedisCluster;
  let server: RunningServer;
  let repository: RedisDeviceGrantRepository;

  beforeAll(async () => {
    cluster = await startTestRedisCluster();
    const port = await freePort();
    const config: Config = {
      port,
      host: '127.0.0.1',
      issuer: `http://127.0.0.1:${port}`,
      redisUrl: undefined,
      redisClusterNodes: cluster.urls,
      secret: 'a-test-secret-of-at-least-32-characters!',
      configPath: '(test)',
      dataDir: mkdtempSync(join(tmpdir(), 'devicegate-data-')),
      logLevel: 'silent',
      trustProxy: false,
      operations: DEFAULT_OPERATIONS,
      file: await testConfigFile(),
    };
    server = await startServer(config, { logger: pino({ level: 'silent' }) });
    repository = new RedisDeviceGrantRepository(await connectRedisCluster(cluster.urls), keyBuilder('devicegate:'));
  }, 90_000);
  afterAll(async () => {
    await server?.close();
    await repository?.close();
    await cluster?.close();
  });

  async function post(path: string, body: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
    try {
      const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: FORM, body: form(body), signal: AbortSignal.timeout(10_000) });
      const text = await response.text();
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        json = { text };
      }
      return { status: response.status, json };
    } catch (error) {
      return { status: -1, json: { error: String(error) } };
    }
  }

  const authorize = () => post('/oauth/device/authorize', { client_id: 'fast-cli', scope: 'openid' });

  it('answers 503 (never 500) while a master is down, again after its replica is promoted, and redeems nothing twice', async () => {
    // Approved grants, spread over every master by their routing tags.
    const grants: { deviceCode: string; issued: number; done: boolean }[] = [];
    for (let i = 0; i < 30; i++) {
      const { status, json } = await authorize();
      expect(status).toBe(200);
      const userCode = normaliseUserCode(String(json.user_code))!;
      expect(await repository.decide(userCode, { kind: 'approve', subject: 'alice' }, Date.now())).toBe('approved');
      grants.push({ deviceCode: String(json.device_code), issued: 0, done: false });
    }
    const victimPort = await cluster.masterPortFor(keyBuilder('devicegate:').grant(hashDeviceCode(grants[0]!.deviceCode)));

    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    let loading = true;
    // Device authorizations, 4 at a time, all along.
    const authorizers = Array.from({ length: 4 }, async () => {
      while (loading) {
        count((await authorize()).status);
        await sleep(5);
      }
    });
    // Each approved grant polled until redeemed or refused (fast-cli: 1 s interval).
    const pollers = grants.map(async (grant) => {
      while (loading && !grant.done) {
        const { status, json } = await post('/oauth/token', { grant_type: DEVICE_GRANT, device_code: grant.deviceCode, client_id: 'fast-cli' });
        count(status);
        if (status === 200) grant.issued++;
        // A refused code (invalid_grant: consumed, its answer lost with the dead master) is final.
        if (status === 200 || json.error === 'invalid_grant' || json.error === 'expired_token') grant.done = true;
        await sleep(1_100);
      }
    });

    await sleep(1_000);
    await cluster.kill(victimPort);
    const killedAt = Date.now();
    await cluster.waitUntilHealthy(30_000);
    const promotedAfterMs = Date.now() - killedAt;
    // Keep the load on a while after the promotion, then check the service answers everything again.
    await sleep(3_000);
    loading = false;
    await Promise.all([...authorizers, ...pollers]);

    const after = await Promise.all(Array.from({ length: 20 }, () => authorize()));
    expect(after.map((r) => r.status)).toEqual(after.map(() => 200));

    const summary = Object.fromEntries(statuses);
    // Log the figures for the README (failover time, what clients saw).
    console.log(JSON.stringify({ promotedAfterMs, statuses: summary }));
    expect(statuses.get(500) ?? 0).toBe(0);
    expect(statuses.get(-1) ?? 0).toBe(0); // no hung or reset request
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0); // the dead master's slots answered "retry"
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    for (const status of statuses.keys()) expect([200, 400, 503]).toContain(status);
    // Exactly-once redemption: no device_code answered 200 twice.
    expect(grants.filter((grant) => grant.issued > 1)).toEqual([]);
    // The grants on the surviving masters were all redeemed.
    expect(grants.filter((grant) => grant.issued === 1).length).toBeGreaterThan(0);
  }, 120_000);
});
