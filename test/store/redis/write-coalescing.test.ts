import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemporarilyUnavailableError } from '../../../src/domain/errors.js';
import { POLL_GRANT_CONSTANTS } from '../../../src/store/redis/grants.js';
import { LuaScript } from '../../../src/store/redis/lua-script.js';
import { callRedis, connectRedis } from '../../../src/store/redis/connection.js';
import { coalesceWrites, MAX_COMMANDS_PER_WRITE } from '../../../src/store/redis/write-coalescing.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

let server: TestRedis;
beforeAll(async () => {
  server = await startTestRedis();
});
afterAll(async () => {
  await server.close();
});

/** Counts the socket's writes to the kernel (net.Socket's _write and _writev) while `work` runs. */
async function socketWrites(redis: Redis, work: () => Promise<unknown>): Promise<number> {
  const socket = redis.stream as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const { _write, _writev } = socket;
  let writes = 0;
  socket._write = function (...args) {
    writes++;
    return _write.apply(this, args);
  };
  socket._writev = function (...args) {
    writes++;
    return _writev.apply(this, args);
  };
  try {
    await work();
  } finally {
    socket._write = _write;
    socket._writev = _writev;
  }
  return writes;
}

describe('coalesceWrites', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = await connectRedis(server.url);
  });
  afterAll(() => redis.quit());

  const twentyGets = (prefix: string) => Promise.all(Array.from({ length: 20 }, (_, i) => redis.get(`${prefix}${i}`)));

  it('sends the commands of one event-loop turn in one socket write, each answered as its own', async () => {
    const prefix = server.prefix();
    await redis.mset(...Array.from({ length: 20 }, (_, i) => [`${prefix}${i}`, `value ${i}`]).flat());

    let answers: (string | null)[] = [];
    const writes = await socketWrites(redis, async () => {
      coalesceWrites(redis);
      answers = await twentyGets(prefix);
    });
    expect(writes).toBe(1);
    expect(answers).toEqual(Array.from({ length: 20 }, (_, i) => `value ${i}`));
    expect(redis.stream.writableCorked).toBe(0); // uncorked again
  });

  it('is what makes the difference: without it the same commands take several writes', async () => {
    expect(await socketWrites(redis, () => twentyGets(server.prefix()))).toBeGreaterThan(1);
  });

  it('groups the scripts of concurrent polls (LuaScript.run coalesces), at most MAX_COMMANDS_PER_WRITE a write', async () => {
    const script = new LuaScript('poll-grant', 1, POLL_GRANT_CONSTANTS);
    await script.run(redis, `${server.prefix()}absent`, 'cli', Date.now()); // loaded
    const polls = (count: number) =>
      Promise.all(Array.from({ length: count }, (_, i) => script.run(redis, `${server.prefix()}absent${i}`, 'cli', Date.now())));
    let answers: unknown[] = [];
    expect(
      await socketWrites(redis, async () => {
        answers = await polls(MAX_COMMANDS_PER_WRITE);
      }),
    ).toBe(1);
    expect(answers).toEqual(Array.from({ length: MAX_COMMANDS_PER_WRITE }, () => ['invalid_grant']));
    // One more than fit: the first MAX_COMMANDS_PER_WRITE leave as soon as the next one comes, not at the end of the turn.
    expect(
      await socketWrites(redis, async () => {
        answers = await polls(2 * MAX_COMMANDS_PER_WRITE + 1);
      }),
    ).toBe(3);
    expect(answers).toEqual(Array.from({ length: 2 * MAX_COMMANDS_PER_WRITE + 1 }, () => ['invalid_grant']));
    expect(redis.stream.writableCorked).toBe(0);
  });

  it('does nothing before the connection exists', () => {
    const notConnected = new Redis(server.url, { lazyConnect: true });
    expect(() => coalesceWrites(notConnected)).not.toThrow();
    notConnected.disconnect();
  });

  it('still fails fast when Redis goes away while commands wait for the turn to end', async () => {
    const own = await startTestRedis();
    const connection = await connectRedis(own.url);
    try {
      coalesceWrites(connection);
      const pending = callRedis('test store', () => connection.get('key'));
      await own.stop(); // the server stops before the write leaves
      const started = Date.now();
      await expect(pending).rejects.toBeInstanceOf(TemporarilyUnavailableError);
      expect(Date.now() - started).toBeLessThan(2_500);
    } finally {
      connection.disconnect();
    }
  });
});
