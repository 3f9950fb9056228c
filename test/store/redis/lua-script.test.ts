import { Redis, ReplyError } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LuaScript } from '../../../src/store/redis/lua-script.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

let server: TestRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startTestRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  await redis.quit();
  await server.close();
});

/** Calls of each command since the last CONFIG RESETSTAT (INFO commandstats). */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  return Object.fromEntries([...info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map(([, name, calls]) => [name, Number(calls)]));
}

describe('LuaScript', () => {
  // poll-grant.lua: KEYS[1] grant hash, ARGV client_id, now; an absent grant answers invalid_grant.
  const script = new LuaScript('poll-grant', 1);
  let key: string;
  beforeEach(async () => {
    key = `${server.prefix()}grant`;
    await redis.script('FLUSH');
    await redis.config('RESETSTAT');
  });

  it('names the script by the SHA-1 Redis gives it', async () => {
    expect(script.sha1).toBe(await redis.script('LOAD', script.source));
  });

  it('loads a script Redis does not have with one EVAL after NOSCRIPT, then runs it by EVALSHA alone', async () => {
    expect(await script.run(redis, key, 'cli', Date.now())).toEqual(['invalid_grant']);
    expect(await commandCalls()).toMatchObject({ evalsha: 1, eval: 1 });
    expect(await redis.script('EXISTS', script.sha1)).toEqual([1]);

    await redis.config('RESETSTAT');
    expect(await script.run(redis, key, 'cli', Date.now())).toEqual(['invalid_grant']);
    const calls = await commandCalls();
    expect(calls.evalsha).toBe(1);
    expect(calls.eval).toBeUndefined();
  });

  it('loads it again after the server lost its scripts (restart, failover, SCRIPT FLUSH)', async () => {
    await script.run(redis, key, 'cli', Date.now());
    await redis.script('FLUSH');
    expect(await script.run(redis, key, 'cli', Date.now())).toEqual(['invalid_grant']);
  });

  it('passes any other error on without retrying it', async () => {
    await script.run(redis, key, 'cli', Date.now()); // loaded
    await redis.set(key, 'not a hash'); // the script's HMGET then fails with WRONGTYPE
    await redis.config('RESETSTAT');
    const failure = await script.run(redis, key, 'cli', Date.now()).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ReplyError);
    expect((failure as Error).message).toMatch(/WRONGTYPE/);
    const calls = await commandCalls();
    expect(calls.evalsha).toBe(1);
    expect(calls.eval).toBeUndefined();
  });
});
