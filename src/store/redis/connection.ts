import { Cluster, type ClusterOptions, Redis, type RedisOptions, ReplyError } from 'ioredis';
import { TemporarilyUnavailableError } from '../../domain/errors.js';
import { redisCommandDuration, redisErrors } from '../../metrics.js';

/**
 * Error replies that mean "not now" (restart, failover, memory full, busy script). Every Redis failure
 * becomes a 503 for the client (issue 10: never a 500); these ones are expected in operation, any
 * other reply is counted as a "reply" error too and still answered 503, because retrying later is
 * all a client can do either way.
 */
const TRANSIENT_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN|OOM|NOREPLICAS|MISCONF)\b/;

/** Listeners told about every failed Redis call (the readiness monitor probes at once). */
const failureListeners = new Set<(error: unknown) => void>();

/** Calls `listener` after each failed Redis call; returns the function that unsubscribes it. */
export function onRedisFailure(listener: (error: unknown) => void): () => void {
  failureListeners.add(listener);
  return () => failureListeners.delete(listener);
}

/** True for errors that come from Redis or the connection to it (ioredis), as opposed to our own code. */
export function isRedisFailure(error: unknown): boolean {
  if (error instanceof ReplyError) return true;
  if (!(error instanceof Error)) return false;
  // The last four are the cluster client's (no slot map yet, no reachable node, redirection loop).
  return /^(Connection is closed|Stream isn't writeable|Command timed out|Reached the max retries|connect E|read E|write E|Cluster isn't ready|Failed to refresh slots cache|None of startup nodes is available|Too many Cluster redirections)/.test(
    error.message,
  );
}

/**
 * How long one Redis call may take before the client gets a 503 (REDIS_COMMAND_TIMEOUT_MS). Issue 10:
 * a hung Redis (SIGSTOP, a long script elsewhere) must give a 503 within 1 s of the request.
 */
let callTimeoutMs = 500;

/** Sets the per-call deadline of callRedis (from config, at start-up). */
export function setRedisCallTimeout(ms: number): void {
  callTimeoutMs = ms;
}

/**
 * Connection settings chosen so that a Redis outage yields a fast 503, never a hung request: no
 * offline queue (commands fail at once while disconnected), one retry. The deadline a client sees is
 * callRedis's; ioredis's own commandTimeout is only a backstop that clears commands a hung Redis never
 * answers, because it rejects a command whose reply is already waiting in the socket whenever the event
 * loop was busy for longer than the timeout (timers run before I/O): a consumed grant's answer was lost.
 */
export function redisOptions(overrides: RedisOptions = {}): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 5_000,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    ...overrides,
  };
}

/** Connects and waits until Redis answers; throws when it cannot. */
export async function connectRedis(url: string, options: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(url, redisOptions(options));
  // Connection errors surface as rejected commands (503); without a listener ioredis would log them.
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (error) {
    // Do not leave a reconnecting client behind a failed start.
    redis.disconnect();
    throw error;
  }
  return redis;
}

/**
 * What the stores run on: one Redis (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES). Every
 * multi-key operation names keys of one hash slot (src/store/redis/key-names.ts), so the same
 * scripts run on both.
 */
export type RedisClient = Redis | Cluster;

/**
 * Cluster client settings with the same outage behaviour as redisOptions(): no offline queue (a
 * command for a slot whose master is unreachable fails at once, a 503), one retry per command, short
 * connect timeout. During a failover the cluster answers CLUSTERDOWN or the old master's socket is
 * closed; ioredis refreshes the slot map (on MOVED, on a closed node, every slotsRefreshInterval), so
 * once a replica is promoted the next requests reach it. Retry delays stay short: a request waits at
 * most the call deadline (callRedis) either way.
 */
export function clusterOptions(overrides: ClusterOptions = {}): ClusterOptions {
  const { lazyConnect: _lazy, enableOfflineQueue: _queue, retryStrategy: _retry, ...perNode } = redisOptions();
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: true,
    maxRedirections: 4,
    retryDelayOnFailover: 50,
    retryDelayOnClusterDown: 50,
    retryDelayOnTryAgain: 50,
    retryDelayOnMoved: 0,
    slotsRefreshTimeout: 1_000,
    slotsRefreshInterval: 2_000,
    clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    redisOptions: perNode,
    ...overrides,
  };
}

/** Seed nodes of REDIS_CLUSTER_NODES (`redis://` or `rediss://` URLs) → ioredis cluster start-up nodes. */
export function clusterSeeds(urls: readonly string[]): { nodes: { host: string; port: number }[]; options: ClusterOptions } {
  const parsed = urls.map((url) => new URL(url));
  const first = parsed[0];
  const redisOptions: NonNullable<ClusterOptions['redisOptions']> = {};
  if (first?.username) redisOptions.username = decodeURIComponent(first.username);
  if (first?.password) redisOptions.password = decodeURIComponent(first.password);
  if (first?.protocol === 'rediss:') redisOptions.tls = {};
  return {
    nodes: parsed.map((url) => ({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 6379) })),
    options: { redisOptions },
  };
}

/** Connects to a Redis Cluster through its seed nodes and waits until it is ready; throws when it cannot. */
export async function connectRedisCluster(urls: readonly string[], options: ClusterOptions = {}): Promise<Cluster> {
  const seeds = clusterSeeds(urls);
  const base = clusterOptions(options);
  const cluster = new Cluster(seeds.nodes, {
    ...base,
    redisOptions: { ...base.redisOptions, ...seeds.options.redisOptions, ...options.redisOptions },
  });
  cluster.on('error', () => {});
  try {
    await cluster.connect();
  } catch (error) {
    cluster.disconnect();
    throw error;
  }
  return cluster;
}

/** REDIS_CLUSTER_NODES if set, else REDIS_URL. */
export function connectConfiguredRedis(config: { redisUrl?: string | undefined; redisClusterNodes?: readonly string[] | undefined }): Promise<RedisClient> {
  if (config.redisClusterNodes?.length) return connectRedisCluster(config.redisClusterNodes);
  if (config.redisUrl) return connectRedis(config.redisUrl);
  return Promise.reject(new Error('neither REDIS_URL nor REDIS_CLUSTER_NODES is set'));
}

/**
 * The deadlines of the Redis calls in flight, on one timer. Every call has the same timeout, so calls
 * expire in the order they started: a FIFO whose head is the next to expire. A settled call leaves
 * from the head at once (replies on a connection come in order, so it nearly always is the head); the
 * timer wakes at the head's deadline. A timer per call (set, then cleared by nearly every reply) was a
 * measurable share of a poll.
 *
 * An expiry gives way to I/O first (setImmediate runs after the poll phase): after a busy event loop, a
 * reply that already arrived wins over a deadline that passed meanwhile (a consumed grant's answer was
 * once lost that way).
 */
interface CallDeadline {
  readonly expiresAt: number;
  settled: boolean;
  readonly expire: () => void;
}

class CallDeadlines {
  private readonly calls: CallDeadline[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  /** `expire` runs once, when the call is still unsettled after the deadline. */
  add(startedAt: number, expire: () => void): CallDeadline {
    const call: CallDeadline = { expiresAt: startedAt + callTimeoutMs, settled: false, expire };
    this.calls.push(call);
    this.timer ??= this.wakeAt(call.expiresAt);
    return call;
  }

  settle(call: CallDeadline): void {
    call.settled = true;
    this.dropSettledHead();
  }

  private dropSettledHead(): void {
    const calls = this.calls;
    while (this.head < calls.length && calls[this.head]!.settled) this.head++;
    if (this.head === calls.length) {
      calls.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > calls.length) {
      calls.splice(0, this.head);
      this.head = 0;
    }
  }

  private wakeAt(at: number): NodeJS.Timeout {
    const timer = setTimeout(() => setImmediate(() => this.expireDue()), Math.max(0, at - performance.now()));
    // The calls' own sockets keep the process alive; this timer must not on its own.
    timer.unref();
    return timer;
  }

  private expireDue(): void {
    const now = performance.now();
    const calls = this.calls;
    while (this.head < calls.length && (calls[this.head]!.settled || calls[this.head]!.expiresAt <= now)) {
      const call = calls[this.head++]!;
      if (call.settled) continue;
      call.settled = true;
      call.expire();
    }
    this.dropSettledHead();
    this.timer = this.head < calls.length ? this.wakeAt(calls[this.head]!.expiresAt) : undefined;
  }
}

const deadlines = new CallDeadlines();

/**
 * Hands `pending`'s outcome to `onResult` or `onFailure`, or a "Command timed out" failure to
 * `onFailure` after the call deadline (see CallDeadlines): exactly one of them, once.
 */
function settleByDeadline<T>(pending: Promise<T>, startedAt: number, onResult: (result: T) => void, onFailure: (error: unknown) => void): void {
  const call = deadlines.add(startedAt, () => onFailure(new Error('Command timed out')));
  pending.then(
    (result) => {
      if (call.settled) return;
      deadlines.settle(call);
      onResult(result);
    },
    (error: unknown) => {
      if (call.settled) return;
      deadlines.settle(call);
      onFailure(error);
    },
  );
}

/** `pending`, or a "Command timed out" failure after the call deadline (the readiness probe's). */
export function withRedisDeadline<T>(pending: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => settleByDeadline(pending, performance.now(), resolve, reject));
}

/**
 * Runs one Redis call, timed for /metrics. Any failure — Redis down, hung (past the call deadline),
 * refusing writes (OOM at maxmemory, READONLY replica) or a reply we did not expect — becomes a
 * retryable 503 `temporarily_unavailable` (RFC 6749 §4.1.2.1 / §5.2 usage) for the client; the cause is
 * kept for the logs, whose serializer drops command arguments.
 */
export function callRedis<T>(store: string, command: () => Promise<T>): Promise<T> {
  // Not async/await, and one promise of its own with the deadline folded in: this wraps every Redis
  // call, a poll's included.
  const started = performance.now();
  return new Promise<T>((resolve, reject) => {
    let pending: Promise<T>;
    try {
      pending = command();
    } catch (error) {
      pending = Promise.reject(error);
    }
    settleByDeadline(
      pending,
      started,
      (result) => {
        redisCommandDuration.observe((performance.now() - started) / 1000);
        resolve(result);
      },
      (error) => {
        redisCommandDuration.observe((performance.now() - started) / 1000);
        redisErrors.inc({ kind: error instanceof ReplyError && !TRANSIENT_REPLY.test((error as Error).message) ? 'reply' : 'unavailable' });
        for (const listener of failureListeners) listener(error);
        reject(new TemporarilyUnavailableError(`the ${store} is unavailable; retry shortly`, { cause: error }));
      },
    );
  });
}
