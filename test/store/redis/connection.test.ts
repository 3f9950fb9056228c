import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemporarilyUnavailableError } from '../../../src/domain/errors.js';
import { callRedis, connectRedis, onRedisFailure, setRedisCallTimeout, withRedisDeadline } from '../../../src/store/redis/connection.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

const CALL_TIMEOUT_MS = 300;

let server: TestRedis;
let redis: Redis;
beforeAll(async () => {
  setRedisCallTimeout(CALL_TIMEOUT_MS);
  server = await startTestRedis();
  redis = await connectRedis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.close();
  setRedisCallTimeout(500);
});

/** Blocks the event loop (no timers, no I/O) for `ms`. */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
}

describe('callRedis deadlines (one timer for every call in flight)', () => {
  it('answers each call, many at once, with its own reply', async () => {
    const prefix = server.prefix();
    await redis.mset(...Array.from({ length: 200 }, (_, i) => [`${prefix}${i}`, `value ${i}`]).flat());
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => callRedis('test store', () => redis.get(`${prefix}${i}`))));
    expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => `value ${i}`));
  });

  it('fails every call to a hung Redis with a 503 shortly after the deadline, in the order they started, and tells the failure listeners', async () => {
    const failures: unknown[] = [];
    const unsubscribe = onRedisFailure((error) => failures.push(error));
    server.pause();
    try {
      const started = performance.now();
      const settledAt: number[] = [];
      const calls = [0, 50, 100].map(
        (delay) =>
          new Promise<unknown>((resolve) =>
            setTimeout(() => {
              callRedis('test store', () => redis.get('any')).then(resolve, (error: unknown) => {
                settledAt.push(performance.now() - started - delay);
                resolve(error);
              });
            }, delay),
          ),
      );
      const outcomes = await Promise.all(calls);
      for (const outcome of outcomes) {
        expect(outcome).toBeInstanceOf(TemporarilyUnavailableError);
        expect(((outcome as Error).cause as Error).message).toBe('Command timed out');
      }
      // Each one after its own deadline, none long after it.
      for (const elapsed of settledAt) {
        expect(elapsed).toBeGreaterThanOrEqual(CALL_TIMEOUT_MS - 5);
        expect(elapsed).toBeLessThan(CALL_TIMEOUT_MS + 250);
      }
      expect(failures).toHaveLength(3);
    } finally {
      unsubscribe();
      server.resume();
    }
    // Redis back: calls answer again (the late replies of the expired calls are not mistaken for theirs).
    const key = `${server.prefix()}after`;
    await redis.set(key, 'fresh');
    expect(await callRedis('test store', () => redis.get(key))).toBe('fresh');
  });

  it('lets a reply that arrived while the event loop was busy past the deadline win over the deadline', async () => {
    const key = `${server.prefix()}busy`;
    await redis.set(key, 'arrived');
    const pending = callRedis('test store', () => redis.get(key));
    // The reply reaches the socket within a millisecond or so; the loop stays busy well past the deadline.
    busyFor(CALL_TIMEOUT_MS + 100);
    await expect(pending).resolves.toBe('arrived');
  });

  it('keeps a call that is still waiting alive while earlier ones settle', async () => {
    // A command that takes longer than an earlier call's deadline but less than its own.
    const slow = callRedis('test store', () => new Promise<string>((resolve) => setTimeout(() => resolve('slow'), CALL_TIMEOUT_MS / 2)));
    await new Promise((resolve) => setTimeout(resolve, CALL_TIMEOUT_MS / 3));
    const later = callRedis('test store', () => new Promise<string>((resolve) => setTimeout(() => resolve('later'), CALL_TIMEOUT_MS * 0.9)));
    await expect(slow).resolves.toBe('slow');
    await expect(later).resolves.toBe('later');
  });

  it('turns a command that throws before it is sent into the same 503', async () => {
    const outcome = await callRedis('test store', () => {
      throw new Error('Connection is closed.');
    }).catch((error: unknown) => error);
    expect(outcome).toBeInstanceOf(TemporarilyUnavailableError);
  });

  it('gives withRedisDeadline (the readiness probe) the same deadline', async () => {
    server.pause();
    try {
      const started = performance.now();
      await expect(withRedisDeadline(redis.get('any'))).rejects.toThrow('Command timed out');
      expect(performance.now() - started).toBeLessThan(CALL_TIMEOUT_MS + 250);
    } finally {
      server.resume();
    }
  });
});
