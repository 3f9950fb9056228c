import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DeferredHistogram, grantOutcomeCount, httpRequestCount, metricsRegistry, pollAnswerCount } from '../src/metrics.js';

const seriesValue = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}.]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);

/** The per-request counters count in plain numbers and hand them to prom-client at the scrape. */
describe('deferred request counters', () => {
  it('shows every increment once, across scrapes', async () => {
    const series = 'devicegate_http_requests_total{route="/test-only",method="GET",status="418"}';
    const count = httpRequestCount('/test-only', 'GET', '418');
    count.inc();
    count.inc();
    expect(seriesValue(await metricsRegistry.metrics(), series)).toBe(2);
    expect(seriesValue(await metricsRegistry.metrics(), series)).toBe(2); // nothing counted twice
    httpRequestCount('/test-only', 'GET', '418').inc(); // the same series, looked up again
    expect(seriesValue(await metricsRegistry.metrics(), series)).toBe(3);
  });

  it('counts poll answers and grant outcomes the same way', async () => {
    const before = await metricsRegistry.metrics();
    const pending = seriesValue(before, 'devicegate_device_code_polls_total{answer="authorization_pending"}') || 0;
    const issued = seriesValue(before, 'devicegate_grants_total{outcome="issued"}') || 0;
    pollAnswerCount('authorization_pending').inc();
    grantOutcomeCount.issued.inc();
    const after = await metricsRegistry.metrics();
    expect(seriesValue(after, 'devicegate_device_code_polls_total{answer="authorization_pending"}')).toBe(pending + 1);
    expect(seriesValue(after, 'devicegate_grants_total{outcome="issued"}')).toBe(issued + 1);
  });
});

/** The request path's histograms: plain counts, exposed exactly as prom-client's Histogram would expose them. */
describe('DeferredHistogram', () => {
  const BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.25, 1];
  const observation = fc.record({
    route: fc.constantFrom('/oauth/token', '/oauth/device/authorize', 'unmatched'),
    method: fc.constantFrom('GET', 'POST'),
    // Values on the bounds too: a bucket counts the values at or below its bound.
    value: fc.oneof(fc.constantFrom(0, ...BOUNDS, 2), fc.double({ min: 0, max: 3, noNaN: true })),
  });

  it('gives /metrics text and JSON identical to prom-client Histogram for the same observations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 60 }), async (observations) => {
        const theirs = new Registry();
        const ours = new Registry();
        const reference = new Histogram({ name: 'x_seconds', help: 'h', labelNames: ['route', 'method'], buckets: BOUNDS, registers: [theirs] });
        const deferred = new DeferredHistogram('x_seconds', 'h', ['route', 'method'], BOUNDS).registerIn(ours);
        for (const { route, method, value } of observations) {
          reference.labels(route, method).observe(value);
          // Label order of the caller's object does not matter.
          deferred.series({ method, route }).observe(value);
        }
        expect(await ours.metrics()).toBe(await theirs.metrics());
        expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
      }),
      { numRuns: 200 },
    );
  });

  it('has an unlabelled series, refuses what is not a finite number, and resets', async () => {
    const registry = new Registry();
    const histogram = new DeferredHistogram('y_seconds', 'h', [], BOUNDS).registerIn(registry);
    const series = histogram.series({});
    series.observe(0.002);
    expect(() => series.observe(Number.NaN)).toThrow(TypeError);
    expect(() => series.observe(Number.POSITIVE_INFINITY)).toThrow(TypeError);
    const text = await registry.metrics();
    expect(text).toContain('y_seconds_bucket{le="0.001"} 0\ny_seconds_bucket{le="0.0025"} 1');
    expect(text).toContain('y_seconds_sum 0.002\ny_seconds_count 1');
    histogram.reset();
    expect(await registry.metrics()).not.toContain('y_seconds_count');
  });

  it('serves the request and Redis histograms on /metrics', async () => {
    const text = await metricsRegistry.metrics();
    expect(text).toContain('# TYPE devicegate_http_request_duration_seconds histogram');
    expect(text).toContain('# TYPE devicegate_redis_command_duration_seconds histogram');
  });
});
