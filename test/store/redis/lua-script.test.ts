import { Redis, ReplyError } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { POLL_LEEWAY_MAX_MS, POLL_LEEWAY_MS_PER_INTERVAL_SECOND, SLOW_DOWN_INCREMENT_SECONDS } from '../../../src/domain/poll-policy.js';
import { POLL_GRANT_CONSTANTS } from '../../../src/store/redis/grants.js';
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
  const script = new LuaScript('poll-grant', 1, POLL_GRANT_CONSTANTS);
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

  it('passes keys and arguments as they are, numbers as their decimal text (a grant has ~25 of them)', async () => {
    // create-grant.lua writes ARGV's field, value pairs into the grant hash as they come.
    const create = new LuaScript('create-grant', 2);
    const index = `${server.prefix()}index`;
    const grant = `${server.prefix()}grant-args`;
    const values = Array.from({ length: 12 }, (_, i) => (i % 2 ? `value ${i} é` : i * 1.5));
    expect(await create.run(redis, index, grant, 60_000, 'index value', 0, ...values.flatMap((value, i) => [`f${i}`, value]))).toBe(1);
    expect(await redis.hgetall(grant)).toEqual(Object.fromEntries(values.map((value, i) => [`f${i}`, String(value)])));
    expect(await redis.get(index)).toBe('index value');
    expect(await redis.pttl(grant)).toBeGreaterThan(59_000);
  });
});

describe('LuaScript constants', () => {
  it('fills every $NAME of the script once, when it is loaded, and names it by the filled source', async () => {
    const script = new LuaScript('poll-grant', 1, POLL_GRANT_CONSTANTS);
    expect(script.source).not.toMatch(/\$[A-Z]/);
    expect(script.source).toContain(`interval + ${SLOW_DOWN_INCREMENT_SECONDS}`);
    expect(script.source).toContain(`math.min(${POLL_LEEWAY_MAX_MS}, interval * ${POLL_LEEWAY_MS_PER_INTERVAL_SECOND})`);
    expect(script.sha1).toBe(await redis.script('LOAD', script.source));
  });

  it('refuses a script with a placeholder left without a value', () => {
    const { POLL_LEEWAY_MAX_MS: _missing, ...partial } = POLL_GRANT_CONSTANTS;
    expect(() => new LuaScript('poll-grant', 1, partial)).toThrow('poll-grant.lua: no value for $POLL_LEEWAY_MAX_MS');
  });

  it('refuses a value the script has no placeholder for, and a value that is not a finite number', () => {
    expect(() => new LuaScript('poll-grant', 1, { ...POLL_GRANT_CONSTANTS, EXTRA: 1 })).toThrow('poll-grant.lua: no placeholder for EXTRA');
    expect(() => new LuaScript('poll-grant', 1, { ...POLL_GRANT_CONSTANTS, POLL_LEEWAY_MAX_MS: Number.NaN })).toThrow('must be a finite number');
  });
});
