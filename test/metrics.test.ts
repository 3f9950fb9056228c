import { describe, expect, it } from 'vitest';
import { grantOutcomeCount, httpRequestCount, metricsRegistry, pollAnswerCount } from '../src/metrics.js';

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
