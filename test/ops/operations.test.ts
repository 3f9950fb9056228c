import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OPERATIONS, loadConfig } from '../../src/config.js';
import { systemClock } from '../../src/domain/clock.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { freePort } from '../support/redis-server.js';
import { DEVICE_GRANT, form, testConfig, testStores } from '../support/server.js';
import { spawnDevicegate } from './process.js';

async function memoryServer(metricsPort?: number): Promise<RunningServer> {
  const config = await testConfig({ operations: { ...DEFAULT_OPERATIONS, metricsPort } });
  return startServer(config, { stores: await testStores('memory', systemClock), logger: pino({ level: 'silent' }) });
}

describe('/healthz, /readyz and /metrics (issue 10 §6)', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await memoryServer();
  });
  afterAll(() => server.close());

  it('/healthz and /readyz answer 200 while serving', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('/metrics in the Prometheus text format: requests by route and status, latency, grants, polls, limiter', async () => {
    const post = (path: string, body: string) =>
      fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const grant = (await (await post('/oauth/device/authorize', form({ client_id: 'demo-cli' }))).json()) as { device_code: string };
    await post('/oauth/token', form({ grant_type: DEVICE_GRANT, device_code: grant.device_code, client_id: 'demo-cli' }));
    await fetch(`${server.url}/no/such/path/${Math.random()}`);
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toMatch(/devicegate_http_requests_total\{route="\/oauth\/device\/authorize",method="POST",status="200"\} [1-9]/);
    expect(text).toMatch(/devicegate_http_request_duration_seconds_bucket\{le="0\.1",route="\/oauth\/token",method="POST"\} [1-9]/);
    expect(text).toMatch(/devicegate_grants_total\{outcome="issued"\} [1-9]/);
    expect(text).toMatch(/devicegate_device_code_polls_total\{answer="authorization_pending"\} [1-9]/);
    // An unknown path is one "unmatched" series, never a series per path a client made up.
    expect(text).toMatch(/route="unmatched",method="GET",status="404"/);
    expect(text).not.toContain('/no/such/path');
    expect(text).toContain('# TYPE devicegate_rate_limit_rejections_total counter');
    expect(text).toContain('# TYPE devicegate_signing_key_age_seconds gauge');
    // The data-directory key was written at start-up: its age is known, small and not negative.
    const keyAge = Number(/^devicegate_signing_key_age_seconds (\S+)$/m.exec(text)?.[1]);
    expect(keyAge).toBeGreaterThanOrEqual(0);
    expect(keyAge).toBeLessThan(600);
    expect(text).toMatch(/devicegate_ready 1/);
  });

  it('readiness turns false as soon as a drain starts', async () => {
    const draining = await memoryServer();
    const closed = draining.close();
    expect(draining.isReady()).toBe(false);
    await closed;
  });

  it('METRICS_PORT moves /metrics to a listener of its own; the main port answers 404 there', async () => {
    const separate = await memoryServer(await freePort());
    try {
      expect(separate.metricsUrl).toMatch(/\/metrics$/);
      const own = await fetch(separate.metricsUrl!);
      expect(own.status).toBe(200);
      expect(await own.text()).toContain('devicegate_http_requests_total');
      const main = await fetch(`${separate.url}/metrics`);
      expect(main.status).toBe(404);
      expect((await main.json()).error).toBe('invalid_request');
      expect((await fetch(new URL('/other', separate.metricsUrl!))).status).toBe(404);
    } finally {
      await separate.close();
    }
  });

  it('the operations settings come from the environment, a bad one named', () => {
    const config = loadConfig({ SHUTDOWN_TIMEOUT_MS: '2500', MAX_CONNECTIONS: '50', METRICS_PORT: '9464', HTTP_HEADERS_TIMEOUT_MS: '3000' });
    expect(config.operations).toMatchObject({ shutdownTimeoutMs: 2_500, maxConnections: 50, metricsPort: 9_464, headersTimeoutMs: 3_000 });
    expect(() => loadConfig({ MAX_CONNECTIONS: 'lots' })).toThrow(/MAX_CONNECTIONS/);
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
  });
});

describe('start-up with Redis down', () => {
  it('exits 69 with a message naming Redis (no password), instead of serving 503s', async () => {
    const deadPort = await freePort();
    const started = spawnDevicegate({ REDIS_URL: `redis://:hunter2secret@127.0.0.1:${deadPort}` });
    await expect(started).rejects.toThrow(/devicegate exited 69: devicegate: cannot reach Redis at 127\.0\.0\.1:\d+/);
    await expect(started).rejects.not.toThrow(/hunter2secret/);
  }, 60_000);
});

describe('connection cap', () => {
  it('MAX_CONNECTIONS sets server.maxConnections', async () => {
    const { createConnection } = await import('node:net');
    const config = await testConfig({ operations: { ...DEFAULT_OPERATIONS, maxConnections: 2 } });
    const { port } = config;
    const server = await startServer(config, { stores: await testStores('memory', systemClock), logger: pino({ level: 'silent' }) });
    const held = [createConnection(port, '127.0.0.1'), createConnection(port, '127.0.0.1')];
    await Promise.all(held.map((socket) => new Promise((resolve) => socket.once('connect', resolve))));
    await new Promise((resolve) => setTimeout(resolve, 100));
    // A third connection is accepted by the kernel and closed at once by Node: no answer.
    const third = await fetch(`${server.url}/healthz`).then((r) => r.status, (error: Error) => error.name);
    expect(third).toBe('TypeError');
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    await server.close();
  });
});
