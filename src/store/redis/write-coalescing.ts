import { Redis } from 'ioredis';
import type { RedisClient } from './connection.js';

/**
 * At most this many commands leave in one write. With no cap, a busy turn held every command until
 * the server had parsed all of the turn's requests: Redis then worked through them while the server,
 * every connection waiting on Redis, sat idle (a device authorization's script takes ~11 µs inside
 * Redis). Capped, Redis starts on the first ones while the server parses the rest. Measured with the
 * peer harness's 32 connections, same session (README, "Benchmark"): no cap → 16, device authorization
 * about 21k → 26k req/s with the server now busy all the time, polling the same or faster; 8 and 4 were slower on polling, 32 the same as no cap.
 */
export const MAX_COMMANDS_PER_WRITE = 16;

/** Commands waiting in a corked socket's buffer this turn. */
const held = new WeakMap<object, number>();

/**
 * Lets the commands sent to `redis` during this turn of the event loop leave in few socket writes:
 * the socket is corked by the first and uncorked once the loop has handled every I/O event that was
 * ready (setImmediate runs right after them), or sooner when MAX_COMMANDS_PER_WRITE are waiting.
 * Polls arriving together on different connections then cost Redis one write system call between
 * them instead of one each — the largest single cost of a poll in the profiles (bench/README.md).
 * Nothing is delayed beyond the turn it was sent in, and each command is still its own request's one
 * round trip: this merges writes, not commands.
 */
export function coalesceWrites(redis: RedisClient): void {
  // A Cluster client holds one connection per node and picks it per command (by slot): there is no
  // single socket to cork, so commands leave as ioredis writes them (bypassed, not broken).
  if (!(redis instanceof Redis)) return;
  const socket = redis.stream;
  if (socket === undefined) return;
  if (socket.writableCorked > 0) {
    // Corked by this turn's first command (or by ioredis itself, for a pipeline, which uncorks).
    const waiting = held.get(socket) ?? 0;
    if (waiting < MAX_COMMANDS_PER_WRITE) {
      held.set(socket, waiting + 1);
      return;
    }
    // Full: the waiting commands leave now; this one starts the next write.
    socket.uncork();
    socket.cork();
    held.set(socket, 1);
    return;
  }
  socket.cork();
  held.set(socket, 1);
  setImmediate(uncork, socket);
}

const uncork = (socket: Redis['stream']) => {
  held.delete(socket);
  socket.uncork();
};
