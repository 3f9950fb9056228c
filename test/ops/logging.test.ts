import { Writable } from 'node:stream';
import { Redis, ReplyError } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withRedactedErrors } from '../../src/logging.js';
import { TemporarilyUnavailableError } from '../../src/domain/errors.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

describe('error logs carry no command arguments (issue 10 §5)', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(() => redis.close());

  it('a real ioredis error reply, wrapped as a 503 cause, is logged with the command name only', async () => {
    const client = new Redis(redis.url);
    const secretArgument = 'WDJB-MJHT-user-code-secret';
    await client.set('a-string', 'x');
    const failure = await client.hset('a-string', 'field', secretArgument).catch((error: unknown) => error);
    client.disconnect();
    expect(failure).toBeInstanceOf(ReplyError);
    expect(JSON.stringify((failure as { command?: unknown }).command)).toContain(secretArgument); // ioredis keeps it

    let text = '';
    const logger = withRedactedErrors(pino({ level: 'info' }, new Writable({
        write: (chunk, _e, done) => {
          text += chunk;
          done();
        },
      })));
    logger.error({ err: new TemporarilyUnavailableError('unavailable', { cause: failure }) }, 'failed');
    logger.error({ err: failure }, 'failed');
    expect(text).not.toContain(secretArgument);
    expect(text).toContain('"command":"hset"');
    expect(text).toContain('WRONGTYPE');
  });
});
