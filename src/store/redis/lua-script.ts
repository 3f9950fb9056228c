import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command } from 'ioredis';
import type { RedisClient } from './connection.js';
import { coalesceWrites } from './write-coalescing.js';

type Argument = string | number;

/**
 * One Lua script of src/store/redis/lua/, run as a single EVALSHA round trip. A Redis that does not have
 * the script yet (first use, restart, failover, SCRIPT FLUSH) answers NOSCRIPT; the script is then sent
 * once with EVAL, which also caches it there. This is what ioredis' defineCommand does, without its
 * per-call wrapper objects: a poll runs this on every request.
 *
 * `constants` fill the script's `$NAME` placeholders once, when it is loaded, so numbers that must agree
 * with the TypeScript side (the poll policy's) have one source without travelling with every call. Every
 * placeholder must have a value and every value a placeholder: a script never runs half filled in.
 */
export class LuaScript {
  readonly source: string;
  readonly sha1: string;

  constructor(
    readonly name: string,
    readonly numberOfKeys: number,
    constants: Readonly<Record<string, number>> = {},
  ) {
    this.source = fillConstants(name, readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8'), constants);
    this.sha1 = createHash('sha1').update(this.source).digest('hex');
  }

  /** `keysAndArgs`: the script's `numberOfKeys` KEYS first, then its ARGV. */
  run<Reply>(redis: RedisClient, ...keysAndArgs: Argument[]): Promise<Reply> {
    coalesceWrites(redis);
    return send(redis, 'evalsha', this.sha1, this.numberOfKeys, keysAndArgs).catch((error: unknown) => {
      if (!isNoScript(error)) throw error;
      return send(redis, 'eval', this.source, this.numberOfKeys, keysAndArgs);
    }) as Promise<Reply>;
  }
}

const NO_ARGUMENTS: never[] = [];

/**
 * EVALSHA or EVAL as one ioredis Command. The arguments are set after construction because ioredis 6's
 * Command constructor runs `Array.prototype.flat` over them, which costs V8 ~70 ns per argument (a
 * grant's creation has ~25); ours are flat already.
 * Replies are decoded as UTF-8 strings, as `redis.evalsha()` does.
 */
function send(redis: RedisClient, command: 'evalsha' | 'eval', script: string, numberOfKeys: number, keysAndArgs: Argument[]): Promise<unknown> {
  const call = new Command(command, NO_ARGUMENTS, { replyEncoding: 'utf8' });
  call.args = [script, numberOfKeys, ...keysAndArgs];
  call.stringifyArguments(); // numbers → decimal text, as the constructor would have done
  void redis.sendCommand(call);
  return call.promise;
}

const PLACEHOLDER = /\$([A-Z][A-Z0-9_]*)/g;

function fillConstants(name: string, source: string, constants: Readonly<Record<string, number>>): string {
  const unused = new Set(Object.keys(constants));
  const filled = source.replace(PLACEHOLDER, (_, constant: string) => {
    const value = constants[constant];
    if (value === undefined) throw new Error(`${name}.lua: no value for $${constant}`);
    if (!Number.isFinite(value)) throw new Error(`${name}.lua: $${constant} must be a finite number`);
    unused.delete(constant);
    return String(value);
  });
  if (unused.size > 0) throw new Error(`${name}.lua: no placeholder for ${[...unused].join(', ')}`);
  return filled;
}

const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith('NOSCRIPT');
