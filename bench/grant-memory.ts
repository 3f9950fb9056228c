/**
 * Redis memory per device grant, for the README's sizing figures: a private redis-server, one
 * devicegate server on it, N device authorizations (default 10,000) with a typical CLI user agent,
 * then INFO memory before and after. Also: bytes per rate-limiter key (one per client IP in a
 * flood from many addresses). Run: npx tsx bench/grant-memory.ts [N]
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startServer } from '../src/server.js';
import { connectRedis } from '../src/store/redis/connection.js';
import { RedisDeviceGrantRepository } from '../src/store/redis/grants.js';
import { RedisTokenRepository } from '../src/store/redis/tokens.js';
import { systemClock } from '../src/domain/clock.js';
import { keyBuilder, tokenKeyBuilder } from '../src/store/redis/key-names.js';
import { FailedAttemptLimiter } from '../src/ui/limiter.js';
import { startTestRedis } from '../test/support/redis-server.js';
import { testConfigFile } from '../test/support/server.js';
import { freePort } from '../test/support/redis-server.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const count = Number(process.argv[2] ?? 10_000);
const redis = await startTestRedis();
const admin = new Redis(redis.url);
const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);

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
    file: await testConfigFile(),
  },
  { stores, logger: pino({ level: 'silent' }), clock: systemClock },
);

const before = await usedMemory();
let next = 0;
const userAgent = process.env.BENCH_USER_AGENT_LENGTH ? 'x'.repeat(Number(process.env.BENCH_USER_AGENT_LENGTH)) : 'devicegate-cli/0.1.0 (linux; x64) node/20.20.0';
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < count) {
      next++;
      const response = await fetch(`${server.url}/oauth/device/authorize`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': userAgent },
        body: 'client_id=demo-cli&scope=openid+mcp%3Atools&resource=https%3A%2F%2Fmcp.example.com%2F',
      });
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      await response.arrayBuffer();
    }
  }),
);
const afterGrants = await usedMemory();
const keys = await admin.dbsize();

// Limiter keys: one per client IP in a flood from many addresses.
const limiter = new FailedAttemptLimiter('device_authorization', { per_ip: 60, per_account: 1200, window: 60 }, stores);
for (let i = 0; i < count; i++) await limiter.attempt(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, null);
const afterLimiter = await usedMemory();

const perGrant = (afterGrants - before) / count;
const perLimiterKey = (afterLimiter - afterGrants) / count;
console.log(
  JSON.stringify(
    {
      grants: count,
      redis_keys_after_grants: keys,
      used_memory_before: before,
      used_memory_after_grants: afterGrants,
      bytes_per_grant: Math.round(perGrant),
      bytes_per_limiter_key: Math.round(perLimiterKey),
    },
    null,
    2,
  ),
);
await server.close();
await admin.quit();
await redis.close();
