import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient } from './connection.js';
import { coalesceWrites } from './write-coalescing.js';

type Argument = string | number;

/**
 * One Lua script of src/store/redis/lua/, run as a single EVALSHA round trip. A Redis that does not have
 * the script yet (first use, restart, failover, SCRIPT FLUSH) answers NOSCRIPT; the script is then sent
 * once with EVAL, which also caches it there. This is what ioredis' defineCommand does, without its
 * per-call wrapper objects: a poll runs this on every request.
 */
export class LuaScript {
  readonly source: string;
  readonly sha1: string;

  constructor(
    readonly name: string,
    readonly numberOfKeys: number,
  ) {
    this.source = readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
    this.sha1 = createHash('sha1').update(this.source).digest('hex');
  }

  /** `keysAndArgs`: the script's `numberOfKeys` KEYS first, then its ARGV. */
  run<Reply>(redis: RedisClient, ...keysAndArgs: Argument[]): Promise<Reply> {
    coalesceWrites(redis);
    return redis.evalsha(this.sha1, this.numberOfKeys, ...keysAndArgs).catch((error: unknown) => {
      if (!isNoScript(error)) throw error;
      return redis.eval(this.source, this.numberOfKeys, ...keysAndArgs);
    }) as Promise<Reply>;
  }
}

const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith('NOSCRIPT');
