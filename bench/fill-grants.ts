/** Fills Redis with pending device grants for the benchmarks (bench/scale.ts, bench/workers.ts). */
import { writeFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { generateDeviceCode, generateUserCode, hashDeviceCode, userCodeRoutingTag } from '../src/domain/codes.js';
import { type DeviceGrant, retentionMs } from '../src/domain/device-grant.js';
import { grantToHashFields } from '../src/store/redis/grant-hash.js';
import { keyBuilder } from '../src/store/redis/key-names.js';
import { LuaScript } from '../src/store/redis/lua-script.js';
import { splitTokenHash } from '../src/domain/opaque-token.js';

const createGrant = new LuaScript('create-grant', 2);
const keys = keyBuilder('devicegate:');
const userAgent = 'devicegate-cli/0.1.0 (Linux x86_64; rv:128.0) node/20.20.2 undici/6.21.1 '.padEnd(120, 'abcdefghij');

/**
 * `size` pending grants in Redis, pipelined (`batch` per pipeline), through the server's own code path:
 * the key builders, the grant hash encoding and create-grant.lua with RedisDeviceGrantRepository.create's
 * arguments. Writes `pollCodes` of their device codes, spread evenly over all of them, to `codesFile`.
 */
export async function fillPendingGrants(redis: Redis, size: number, pollCodes: number, codesFile: string, batch = 5_000): Promise<{ seconds: number; polled: number }> {
  const started = performance.now();
  const now = Date.now();
  const step = Math.max(1, Math.floor(size / pollCodes));
  const polled: string[] = [];
  await redis.script('LOAD', createGrant.source);
  for (let offset = 0; offset < size; offset += batch) {
    const pipeline = redis.pipeline();
    for (let i = offset; i < Math.min(size, offset + batch); i++) {
      const userCode = generateUserCode();
      const deviceCode = generateDeviceCode(userCode);
      const grant: DeviceGrant = {
        deviceCodeHash: hashDeviceCode(deviceCode),
        userCode,
        clientId: 'demo-cli',
        scope: ['openid'],
        resource: [],
        status: 'pending',
        interval: 5,
        createdAt: now,
        // Long enough that no grant expires during the run.
        expiresAt: now + 3_600_000,
        lastPolledAt: null,
        subject: null,
        decidedAt: null,
        requester: { ip: '203.0.113.7', userAgent },
      };
      const { tag, digest } = splitTokenHash(grant.deviceCodeHash);
      // The same arguments as RedisDeviceGrantRepository.create (one EVALSHA of create-grant.lua).
      pipeline.evalsha(
        createGrant.sha1, 2,
        keys.userCodeIndex(userCode), keys.grant(grant.deviceCodeHash),
        retentionMs(grant, now),
        tag === userCodeRoutingTag(userCode) ? digest : grant.deviceCodeHash,
        0, // no flood-limit counters
        ...grantToHashFields(grant),
      );
      if (i % step === 0 && polled.length < pollCodes) polled.push(deviceCode);
    }
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0];
  }
  writeFileSync(codesFile, `${polled.join('\n')}\n`);
  return { seconds: (performance.now() - started) / 1000, polled: polled.length };
}

