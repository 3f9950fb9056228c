/**
 * Memory per pending device grant, for the README's sizing figures (issue 13: ≤ 600 bytes of Redis
 * per pending grant with a ~120-byte user agent):
 * 1. devicegate on Redis: a private redis-server, one devicegate server on it, N device authorizations
 *    (default 100,000) with a 120-byte user agent, INFO memory `used_memory` before and after;
 * 2. the peer (oidc-provider, PEER_DIR, default /tmp/peer-bench): its server.mjs on its own private
 *    redis-server, the same N requests with the same user agent, the same INFO memory delta;
 * 3. devicegate's memory store: heap per grant (process.memoryUsage().heapUsed after a forced GC,
 *    before and after N grants created through the same domain code the endpoint runs);
 * 4. bytes per rate-limiter key (one per client IP in a flood from many addresses).
 * Run: node --expose-gc --import tsx bench/grant-memory.ts [N]   (BENCH_USER_AGENT_LENGTH=120, PEER=0 to skip the peer)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { systemClock } from '../src/domain/clock.js';
import { authorizeDevice } from '../src/domain/device-authorization.js';
import { startServer } from '../src/server.js';
import { MemoryDeviceGrantRepository } from '../src/store/memory/grants.js';
import { connectRedis } from '../src/store/redis/connection.js';
import { RedisDeviceGrantRepository } from '../src/store/redis/grants.js';
import { keyBuilder, tokenKeyBuilder } from '../src/store/redis/key-names.js';
import { RedisTokenRepository } from '../src/store/redis/tokens.js';
import { FailedAttemptLimiter } from '../src/ui/limiter.js';
import { freePort, startTestRedis } from '../test/support/redis-server.js';
import { testConfigFile } from '../test/support/server.js';

const count = Number(process.argv[2] ?? 100_000);
const userAgentLength = Number(process.env.BENCH_USER_AGENT_LENGTH ?? 120);
// A typical CLI/browser-ish user agent, padded to the wanted length.
const userAgent = 'devicegate-cli/0.1.0 (Linux x86_64; rv:128.0) node/20.20.2 undici/6.21.1 '.padEnd(userAgentLength, 'abcdefghij').slice(0, userAgentLength);

async function usedMemory(admin: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
}

/** `count` POSTs to `url`, 16 at a time, each answered 200. */
async function authorizeMany(url: string, body: string): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) {
        next++;
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': userAgent },
          body,
        });
        if (response.status !== 200) throw new Error(`${url}: status ${response.status} ${await response.text()}`);
        await response.arrayBuffer();
      }
    }),
  );
}

async function devicegateOnRedis() {
  const redis = await startTestRedis();
  const admin = new Redis(redis.url);
  const prefix = 'devicegate:';
  const connection = await connectRedis(redis.url);
  const stores = {
    grants: new RedisDeviceGrantRepository(connection, keyBuilder(prefix)),
    tokens: new RedisTokenRepository(connection, tokenKeyBuilder(prefix)),
    redis: connection,
    keyPrefix: prefix,
    close: () => connection.quit().then(() => undefined),
  };
  const port = await freePort();
  const server = await startServer(
    {
      port,
      host: '127.0.0.1',
      issuer: `http://127.0.0.1:${port}`,
      redisUrl: undefined,
      configPath: '(bench)',
      dataDir: mkdtempSync(join(tmpdir(), 'devicegate-bench-')),
      logLevel: 'silent',
      trustProxy: false,
      // No flood limit in the way of N requests from one address.
      file: await testConfigFile({
        rate_limits: {
          device_authorization: { per_ip: 1_000_000, per_client: 1_000_000, window: 1 },
          failed_client_authentication: { per_ip: 100_000, per_client: 100_000, window: 60 },
        },
      }),
    },
    { stores, logger: pino({ level: 'silent' }), clock: systemClock },
  );
  // One request first: the limiter's keys and the scripts exist before the baseline.
  await fetch(`${server.url}/oauth/device/authorize`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=demo-cli&scope=openid' });
  const before = await usedMemory(admin);
  const keysBefore = await admin.dbsize();
  await authorizeMany(`${server.url}/oauth/device/authorize`, 'client_id=demo-cli&scope=openid+mcp%3Atools&resource=https%3A%2F%2Fmcp.example.com%2F');
  const afterGrants = await usedMemory(admin);
  const keys = (await admin.dbsize()) - keysBefore;
  const sample = (await admin.scan(0, 'MATCH', `${prefix}g:*`, 'COUNT', 1000))[1][0]!;
  const encoding = await admin.object('ENCODING', sample);

  // Limiter keys: one per client IP in a flood from many addresses.
  const limiter = new FailedAttemptLimiter('device_authorization', { per_ip: 60, per_account: 1200, window: 60 }, stores);
  const limiterCount = Math.min(count, 20_000);
  for (let i = 0; i < limiterCount; i++) await limiter.attempt(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, null);
  const afterLimiter = await usedMemory(admin);
  await server.close();
  await admin.quit();
  await redis.close();
  return {
    redis_keys_per_grant: keys / count,
    grant_hash_encoding: encoding,
    bytes_per_grant: Math.round((afterGrants - before) / count),
    bytes_per_limiter_key: Math.round((afterLimiter - afterGrants) / limiterCount),
  };
}

async function peerOnRedis() {
  const peerDir = process.env.PEER_DIR ?? '/tmp/peer-bench';
  const redis = await startTestRedis();
  const admin = new Redis(redis.url);
  const port = await freePort();
  const peer: ChildProcess = spawn('node', ['server.mjs'], {
    cwd: peerDir,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', REDIS_URL: `${redis.url}/0`, NODE_ENV: 'production' },
    stdio: 'ignore',
  });
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error('peer did not start');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await fetch(`http://127.0.0.1:${port}/device/auth`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=bench-device-client&scope=openid' });
    const before = await usedMemory(admin);
    const keysBefore = await admin.dbsize();
    await authorizeMany(`http://127.0.0.1:${port}/device/auth`, 'client_id=bench-device-client&scope=openid');
    const after = await usedMemory(admin);
    return { redis_keys_per_grant: ((await admin.dbsize()) - keysBefore) / count, bytes_per_grant: Math.round((after - before) / count) };
  } finally {
    peer.kill('SIGTERM');
    await admin.quit();
    await redis.close();
  }
}

async function memoryStoreHeap() {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return { heap_bytes_per_grant: 'run with node --expose-gc' };
  const grants = new MemoryDeviceGrantRepository(systemClock);
  const client = (await testConfigFile()).clients.find((c) => c.client_id === 'demo-cli')!;
  const deps = { store: grants, clock: systemClock, issuer: 'http://127.0.0.1', defaultPolicy: { expires_in: 600, interval: 5 } };
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) {
    await authorizeDevice(deps as Parameters<typeof authorizeDevice>[0], client, {
      scope: 'openid mcp:tools',
      resource: ['https://mcp.example.com/'],
      requester: { ip: '203.0.113.7', userAgent: `${userAgent.slice(0, -6)}${String(i).padStart(6, '0')}` },
    });
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  await grants.close();
  return { heap_bytes_per_grant: Math.round((after - before) / count) };
}

const result: Record<string, unknown> = { grants: count, user_agent_bytes: userAgent.length };
result.devicegate_redis = await devicegateOnRedis();
if (process.env.PEER !== '0') result.peer_oidc_provider_redis = await peerOnRedis();
result.devicegate_memory_store = await memoryStoreHeap();
console.log(JSON.stringify(result, null, 2));
