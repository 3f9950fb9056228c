import { Counter, Gauge, type Metric, Registry, collectDefaultMetrics } from 'prom-client';

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

/** One series of a DeferredHistogram: observations counted into plain numbers. */
export interface HistogramSeries {
  observe(value: number): void;
}

/**
 * A Prometheus histogram for the request path, exposed by prom-client's registry in the very format of
 * prom-client's Histogram (a test holds them equal). Observations are counted into a plain array per
 * series; prom-client's Histogram validates and hashes the label set and turns the bucket bound into a
 * property name on every observe(), a child from labels() included, and two observations per request
 * (the request's and its Redis call's) were the largest single cost of ours on a poll.
 */
export class DeferredHistogram<Label extends string = never> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bySeries = new Map<string, SeriesCounts<Label>>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly Label[],
    private readonly upperBounds: readonly number[],
  ) {}

  /** The series of these label values, for the caller to keep. */
  series(labels: Readonly<Record<Label, string>>): HistogramSeries {
    const key = this.labelNames.map((name) => labels[name]).join('\u0000');
    let series = this.bySeries.get(key);
    if (series === undefined) {
      // In the order of the label names, as prom-client keeps them.
      const ordered = Object.fromEntries(this.labelNames.map((name) => [name, labels[name]])) as Record<Label, string>;
      series = new SeriesCounts(ordered, this.upperBounds);
      this.bySeries.set(key, series);
    }
    return series;
  }

  /** What prom-client's registry reads at a scrape (the shape of Histogram.getForPromString()). */
  async getForPromString() {
    const bucketName = `${this.name}_bucket`;
    const values: { labels: Record<string, string | number>; value: number; metricName: string; exemplar?: null }[] = [];
    for (const series of this.bySeries.values()) {
      let cumulative = 0;
      this.upperBounds.forEach((bound, index) => {
        cumulative += series.counts[index]!;
        values.push({ labels: { le: bound, ...series.labels }, value: cumulative, metricName: bucketName, exemplar: null });
      });
      values.push(
        { labels: { le: '+Inf', ...series.labels }, value: series.count, metricName: bucketName, exemplar: null },
        { labels: { ...series.labels }, value: series.sum, metricName: `${this.name}_sum` },
        { labels: { ...series.labels }, value: series.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The same for registry.getMetricsAsJSON(). */
  get() {
    return this.getForPromString();
  }

  reset(): void {
    this.bySeries.clear();
  }

  /** Registered like prom-client's own metrics (its registry reads only the fields above). */
  registerIn(registry: Registry): this {
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}

class SeriesCounts<Label extends string> implements HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is above every bound (+Inf only). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<Label, string>>,
    private readonly upperBounds: readonly number[],
  ) {
    this.counts = new Float64Array(upperBounds.length + 1);
  }

  observe(value: number): void {
    // As prom-client: a bucket counts the values at or below its bound; NaN and infinities are refused.
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const bounds = this.upperBounds;
    let index = 0;
    while (index < bounds.length && value > bounds[index]!) index++;
    this.counts[index]!++;
    this.sum += value;
    this.count++;
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

export const httpRequestDuration = new DeferredHistogram(
  'devicegate_http_request_duration_seconds',
  'Time from request to response, by route and method.',
  ['route', 'method'],
  [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
).registerIn(metricsRegistry);

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

/** One series (no labels): callRedis observes every call. */
export const redisCommandDuration: HistogramSeries = new DeferredHistogram(
  'devicegate_redis_command_duration_seconds',
  'Latency of store calls to Redis (a call may be one command or one script).',
  [],
  [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
)
  .registerIn(metricsRegistry)
  .series({});

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
