import { Redis } from 'ioredis';
import type { RedisClient } from './connection.js';

/**
 * Lets every command sent to `redis` during this turn of the event loop leave in one socket write:
 * the socket is corked by the first and uncorked once the loop has handled every I/O event that was
 * ready (setImmediate runs right after them). Polls arriving together on different connections then
 * cost Redis one write system call between them instead of one each — the largest single cost of a
 * poll in the profiles (bench/README.md). Nothing is delayed beyond the turn it was sent in, and each
 * command is still its own request's one round trip: this merges writes, not commands.
 */
export function coalesceWrites(redis: RedisClient): void {
  // A Cluster client holds one connection per node and picks it per command (by slot): there is no
  // single socket to cork, so commands leave as ioredis writes them (bypassed, not broken).
  if (!(redis instanceof Redis)) return;
  const socket = redis.stream;
  // Already corked: by this turn's first command, or by ioredis itself (a pipeline), which uncorks.
  if (socket === undefined || socket.writableCorked > 0) return;
  socket.cork();
  setImmediate(uncork, socket);
}

const uncork = (socket: Redis['stream']) => socket.uncork();
