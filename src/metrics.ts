import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus metrics (served at /metrics, or on METRICS_PORT). One registry per
 * process: every module that has something to count imports the named metric from here and
 * increments it; label values are always from a small fixed set (never a path a client chose, a
 * client_id or an IP), so a flood cannot grow the series without bound.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: 'devicegate_' });

/**
 * Increments of a counter's label sets, kept in plain numbers and added to the prom-client counter
 * when the registry is collected (a /metrics scrape). For the series bumped on every request:
 * prom-client hashes and validates the label set on every inc(), a child from labels() included
 * (~0.2 µs each, several per poll); this pays that once per series per scrape.
 */
class DeferredIncrements {
  private readonly bySeries = new Map<string, { readonly labels: Record<string, string>; pending: number; readonly series: { inc(): void } }>();

  /** The series of these labels (a fixed, small set: see the metric's comment); `inc()` adds one. */
  series(labels: Record<string, string>): { inc(): void } {
    const key = Object.values(labels).join('\u0000');
    let entry = this.bySeries.get(key);
    if (entry === undefined) {
      const created = { labels, pending: 0, series: { inc: () => void created.pending++ } };
      this.bySeries.set(key, created);
      entry = created;
    }
    return entry.series;
  }

  flushInto(counter: Counter<string>): void {
    for (const entry of this.bySeries.values()) {
      if (entry.pending === 0) continue;
      counter.inc(entry.labels, entry.pending);
      entry.pending = 0;
    }
  }
}

const requestCounts = new DeferredIncrements();
const pollAnswerCounts = new DeferredIncrements();
const grantOutcomeCounts = new DeferredIncrements();

/** Requests by route (the matched route's pattern, or "unmatched"), method and status. */
export const httpRequests = new Counter({
  name: 'devicegate_http_requests_total',
  help: 'HTTP requests answered, by route, method and status.',
  labelNames: ['route', 'method', 'status'] as const,
  registers: [metricsRegistry],
  collect() {
    requestCounts.flushInto(this);
  },
});

/** A series of devicegate_http_requests_total, for the caller to keep (src/http/app.ts caches them per route, method, status). */
export function httpRequestCount(route: string, method: string, status: string): { inc(): void } {
  return requestCounts.series({ route, method, status });
}

export const httpRequestDuration = new Histogram({
  name: 'devicegate_http_request_duration_seconds',
  help: 'Time from request to response, by route and method.',
  labelNames: ['route', 'method'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [metricsRegistry],
});

/** Grant lifecycle: issued, approved, denied, redeemed, expired (seen on a poll), access_denied (seen on a poll). */
export const grantOutcomes = new Counter({
  name: 'devicegate_grants_total',
  help: 'Device grants by outcome.',
  labelNames: ['outcome'] as const,
  registers: [metricsRegistry],
  collect() {
    grantOutcomeCounts.flushInto(this);
  },
});

/** A series of devicegate_grants_total counted as the request path counts (deferred; see DeferredIncrements). */
export const grantOutcomeCount = {
  issued: grantOutcomeCounts.series({ outcome: 'issued' }),
  redeemed: grantOutcomeCounts.series({ outcome: 'redeemed' }),
  expired: grantOutcomeCounts.series({ outcome: 'expired' }),
} as const;

/** The authorization code flow (issue 11), by outcome. */
export const authorizationOutcomes = new Counter({
  name: 'devicegate_authorizations_total',
  help: 'Authorization code flow: requests refused, decisions, codes redeemed and codes reused, by outcome.',
  labelNames: ['outcome'] as const,
  registers: [metricsRegistry],
});

/** RFC 8628 §3.5 poll answers: token, authorization_pending, slow_down, access_denied, expired_token, … */
export const pollAnswers = new Counter({
  name: 'devicegate_device_code_polls_total',
  help: 'Device-code token requests by answer.',
  labelNames: ['answer'] as const,
  registers: [metricsRegistry],
  collect() {
    pollAnswerCounts.flushInto(this);
  },
});

/** The series of one poll answer (an OAuth error code or `token`: a fixed set). */
export function pollAnswerCount(answer: string): { inc(): void } {
  return pollAnswerCounts.series({ answer });
}

/** A rate limiter refused a request (limiter: code, sign_in, device_authorization, client_auth, …). */
export const limiterRejections = new Counter({
  name: 'devicegate_rate_limit_rejections_total',
  help: 'Requests refused by a rate limiter, by limiter.',
  labelNames: ['limiter'] as const,
  registers: [metricsRegistry],
});

/** kind: unavailable (down, timeout), reply (an error reply: OOM, READONLY, …). */
export const redisErrors = new Counter({
  name: 'devicegate_redis_errors_total',
  help: 'Redis calls that failed, by kind.',
  labelNames: ['kind'] as const,
  registers: [metricsRegistry],
});

export const redisCommandDuration = new Histogram({
  name: 'devicegate_redis_command_duration_seconds',
  help: 'Latency of store calls to Redis (a call may be one command or one script).',
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  registers: [metricsRegistry],
});

let readinessSource: () => boolean = () => true;

/** The server tells the `devicegate_ready` gauge where readiness comes from (what /readyz answers). */
export function reportReadinessFrom(source: () => boolean): void {
  readinessSource = source;
}

/** 1 while the store takes writes and the instance is not draining (what /readyz says). */
export const ready = new Gauge({
  name: 'devicegate_ready',
  help: '1 when this instance is ready to serve (store reachable, not draining).',
  registers: [metricsRegistry],
  collect() {
    this.set(readinessSource() ? 1 : 0);
  },
});

let signingKeyCreatedAt: () => number | null = () => null;

/** The server tells `devicegate_signing_key_age_seconds` when the key that signs now was created (ms). */
export function reportSigningKeyCreatedAtFrom(source: () => number | null): void {
  signingKeyCreatedAt = source;
}

/** Seconds since the key that signs now was created (operators alert on rotation overdue). */
export const signingKeyAge = new Gauge({
  name: 'devicegate_signing_key_age_seconds',
  help: 'Age of the current signing key in seconds.',
  registers: [metricsRegistry],
  collect() {
    const createdAt = signingKeyCreatedAt();
    if (createdAt !== null) this.set(Math.max(0, (Date.now() - createdAt) / 1000));
  },
});

export const requestsInFlight = new Gauge({
  name: 'devicegate_http_requests_in_flight',
  help: 'Requests being handled right now.',
  registers: [metricsRegistry],
});
