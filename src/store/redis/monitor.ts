import type { Logger } from 'pino';
import { onRedisFailure, type RedisClient, withRedisDeadline } from './connection.js';

/** Consecutive failed probes that make an outage (then /readyz answers 503). */
const FAILED_PROBES_FOR_AN_OUTAGE = 2;

/**
 * Whether Redis takes writes right now, for /readyz: a cached state, refreshed by a probe every
 * `intervalMs` and at once after any failed Redis call. The probe is a write (SET … PX) because
 * a Redis that answers PING can still refuse every write (OOM at maxmemory, a READONLY replica
 * after failover). Two failed probes in a row make an outage, so one probe that timed out on a
 * saturated CPU does not flap readiness; a real outage is seen within about a second. An outage is logged once when it starts and once when it ends — never per request.
 */
export class RedisMonitor {
  private healthy = true;
  /** Probes that failed in a row: one alone (a probe timed out on a saturated event loop) is not an outage. */
  private failuresInARow = 0;
  private downSince: number | null = null;
  private probing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly probeKey: string,
    private readonly logger: Logger,
    private readonly intervalMs = 1_000,
  ) {}

  get up(): boolean {
    return this.healthy;
  }

  start(): void {
    this.unsubscribe = onRedisFailure(() => void this.probe());
    this.timer = setInterval(() => void this.probe(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  /** One probe at a time; a failure seen while one runs is covered by it. */
  probe(): Promise<void> {
    this.probing ??= withRedisDeadline(this.redis.set(this.probeKey, '1', 'PX', Math.max(this.intervalMs * 5, 5_000)))
      .then(
        () => this.record(true, null),
        (error: unknown) => this.record(false, error),
      )
      .finally(() => {
        this.probing = null;
      });
    return this.probing;
  }

  private record(probeSucceeded: boolean, error: unknown): void {
    this.failuresInARow = probeSucceeded ? 0 : this.failuresInARow + 1;
    const healthy = probeSucceeded || this.failuresInARow < FAILED_PROBES_FOR_AN_OUTAGE;
    if (healthy === this.healthy) return;
    this.healthy = healthy;
    if (!healthy) {
      this.downSince = Date.now();
      // The message only: an ioredis error's command arguments are never logged.
      this.logger.error({ event: 'redis_outage_start', reason: errorSummary(error) }, 'Redis unavailable: answering 503 until it returns');
    } else {
      const seconds = this.downSince === null ? null : (Date.now() - this.downSince) / 1000;
      this.downSince = null;
      this.logger.warn({ event: 'redis_outage_end', outageSeconds: seconds }, 'Redis available again');
    }
  }
}

function errorSummary(error: unknown): string {
  return error instanceof Error ? error.message.slice(0, 200) : String(error);
}
