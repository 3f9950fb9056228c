import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Config, DEFAULT_OPERATIONS } from '../../src/config.js';
import { normaliseUserCode } from '../../src/domain/codes.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { RedisDeviceGrantRepository } from '../../src/store/redis/grants.js';
import { Agent } from '../ui/agent.js';
import { freePort, startTestRedis, type TestRedis } from '../support/redis-server.js';
import { CONFIDENTIAL_SECRET, DEVICE_GRANT, form, TEST_USERS, testConfigFile } from '../support/server.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

interface Sample {
  readonly what: string;
  readonly status: number;
  readonly ms: number;
  readonly body: string;
}

describe('Redis faults under load (issue 10 §5): 503 within 1 s, never 500; readiness follows; logs stay clean', () => {
  let redis: TestRedis;
  /** An empty primary the test Redis is made a replica of: writes then answer READONLY. */
  let primary: TestRedis;
  let admin: Redis;
  let server: RunningServer;
  let logText = '';
  /** Every secret the test handles: none may appear in a log line. */
  const secrets = new Set<string>([TEST_USERS.alice, TEST_USERS.bob, CONFIDENTIAL_SECRET]);

  beforeAll(async () => {
    redis = await startTestRedis();
    primary = await startTestRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => 200, enableOfflineQueue: false });
    admin.on('error', () => {});
    const port = await freePort();
    const config: Config = {
      port,
      host: '127.0.0.1',
      issuer: `http://127.0.0.1:${port}`,
      redisUrl: redis.url,
      configPath: '(test)',
      dataDir: mkdtempSync(join(tmpdir(), 'devicegate-data-')),
      logLevel: 'info',
      trustProxy: false,
      operations: { ...DEFAULT_OPERATIONS, headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 },
      file: await testConfigFile(),
    };
    const capture = new Writable({
      write(chunk, _encoding, done) {
        logText += chunk.toString();
        done();
      },
    });
    server = await startServer(config, { logger: pino({ level: 'info' }, capture) });
  });
  afterAll(async () => {
    redis.resume();
    await server?.close();
    admin?.disconnect();
    await redis?.close();
    await primary?.close();
  });

  async function timed(what: string, path: string, init: RequestInit = {}): Promise<Sample> {
    const started = performance.now();
    try {
      const response = await fetch(`${server.url}${path}`, { ...init, redirect: 'manual', signal: AbortSignal.timeout(5_000) });
      const body = await response.text();
      return { what, status: response.status, ms: performance.now() - started, body };
    } catch (error) {
      return { what, status: -1, ms: performance.now() - started, body: String(error) };
    }
  }

  /** A new grant: its device_code and user_code become secrets the logs must not show. */
  async function authorize(): Promise<Sample> {
    const sample = await timed('authorize', '/oauth/device/authorize', { method: 'POST', headers: FORM, body: form({ client_id: 'demo-cli', scope: 'openid' }) });
    if (sample.status === 200) {
      const { device_code: deviceCode, user_code: userCode } = JSON.parse(sample.body) as Record<string, string>;
      secrets.add(deviceCode!).add(userCode!).add(normaliseUserCode(userCode!)!);
      deviceCodes.push(deviceCode!);
      userCodes.push(userCode!);
    }
    return sample;
  }
  const deviceCodes: string[] = [];
  const userCodes: string[] = [];

  /** Four workers: device authorization, polls, code entry on the pages, introspection of a live token. */
  async function load(ms: number, accessToken: string): Promise<Sample[]> {
    const samples: Sample[] = [];
    const until = Date.now() + ms;
    const workers = [
      async () => samples.push(await authorize()),
      async () => {
        const deviceCode = deviceCodes[Math.floor(Math.random() * deviceCodes.length)] ?? 'none';
        samples.push(await timed('poll', '/oauth/token', { method: 'POST', headers: FORM, body: form({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: 'demo-cli' }) }));
      },
      async () => {
        const agent = new Agent(server.url, { 'x-forwarded-for': '192.0.2.1' });
        const page = await agent.get('/device');
        samples.push({ what: 'page', status: page.status, ms: 0, body: '' });
        const started = performance.now();
        const entered = await agent.post('/device', { user_code: userCodes.at(-1) ?? 'BCDF-GHJK' });
        samples.push({ what: 'code-entry', status: entered.status, ms: performance.now() - started, body: entered.html });
      },
      async () => samples.push(await timed('introspect', '/oauth/introspect', { method: 'POST', headers: { ...FORM, authorization: `Basic ${Buffer.from(`basic-service:${encodeURIComponent(CONFIDENTIAL_SECRET)}`).toString('base64')}` }, body: form({ token: accessToken }) })),
    ];
    await Promise.all(workers.map(async (work) => {
      while (Date.now() < until) await work();
    }));
    return samples;
  }

  async function readiness(): Promise<number> {
    return (await fetch(`${server.url}/readyz`)).status;
  }

  async function waitForReadiness(status: number, withinMs: number, accessToken: string): Promise<Sample[]> {
    const samples: Sample[] = [];
    const until = Date.now() + withinMs;
    while ((await readiness()) !== status) {
      if (Date.now() > until) throw new Error(`/readyz never answered ${status}`);
      samples.push(...(await load(100, accessToken)));
    }
    return samples;
  }

  function expectNoFaultAnswers(samples: Sample[]): void {
    expect(samples.filter((s) => s.status === -1 || s.status >= 500 && s.status !== 503), 'no 500, no hang').toEqual([]);
    expect(samples.filter((s) => s.ms > 1_000).map((s) => `${s.what} ${s.status} ${Math.round(s.ms)} ms`), 'no request over 1 s').toEqual([]);
    for (const sample of samples.filter((s) => s.status === 503 && s.what !== 'page' && s.what !== 'code-entry')) {
      expect(JSON.parse(sample.body).error).toBe('temporarily_unavailable');
    }
  }

  it('kill, hang (SIGSTOP), maxmemory and READONLY replica: 503s within 1 s, readiness false then true, recovery', async () => {
    // A real token to introspect during the load (and to look for in the logs afterwards).
    await authorize();
    const store = await RedisDeviceGrantRepository.connect(redis.url);
    await store.decide(normaliseUserCode(userCodes[0]!)!, { kind: 'approve', subject: 'alice' }, Date.now());
    await store.close();
    const tokenAnswer = await timed('poll', '/oauth/token', { method: 'POST', headers: FORM, body: form({ grant_type: DEVICE_GRANT, device_code: deviceCodes[0]!, client_id: 'demo-cli' }) });
    const tokens = JSON.parse(tokenAnswer.body) as Record<string, string>;
    expect(tokens.access_token).toEqual(expect.any(String));
    secrets.add(tokens.access_token!);
    if (tokens.refresh_token) secrets.add(tokens.refresh_token);
    expect(await readiness()).toBe(200);

    const faults: { name: string; inject: () => Promise<void> | void; heal: () => Promise<void> | void }[] = [
      { name: 'killed', inject: () => redis.stop(), heal: () => redis.start() },
      { name: 'hung', inject: () => redis.pause(), heal: () => redis.resume() },
      {
        name: 'maxmemory',
        inject: async () => void (await admin.config('SET', 'maxmemory', '1')),
        heal: async () => void (await admin.config('SET', 'maxmemory', '0')),
      },
      {
        name: 'read-only replica',
        inject: async () => {
          const { port } = new URL(primary.url);
          await admin.call('REPLICAOF', '127.0.0.1', port);
        },
        heal: async () => void (await admin.call('REPLICAOF', 'NO', 'ONE')),
      },
    ];
    for (const fault of faults) {
      const before = await load(300, tokens.access_token!);
      expectNoFaultAnswers(before);
      expect(before.some((s) => s.status === 200), `${fault.name}: served before`).toBe(true);

      await fault.inject();
      const during = [...(await load(1_200, tokens.access_token!)), ...(await waitForReadiness(503, 5_000, tokens.access_token!))];
      expectNoFaultAnswers(during);
      expect(during.filter((s) => s.status === 503).length, `${fault.name}: 503s while Redis is ${fault.name}`).toBeGreaterThan(0);

      await fault.heal();
      const recovering = await waitForReadiness(200, 15_000, tokens.access_token!);
      expectNoFaultAnswers(recovering);
      const after = await load(500, tokens.access_token!);
      expectNoFaultAnswers(after);
      expect(after.filter((s) => s.what === 'authorize' && s.status === 200).length, `${fault.name}: recovered`).toBeGreaterThan(0);
      expect(after.filter((s) => s.what === 'introspect').every((s) => s.status === 200), `${fault.name}: introspection recovered`).toBe(true);
    }

    // Each outage is logged once when it starts and once when it ends, not per request.
    const events = logText.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { event?: string });
    expect(events.filter((e) => e.event === 'redis_outage_start')).toHaveLength(faults.length);
    expect(events.filter((e) => e.event === 'redis_outage_end')).toHaveLength(faults.length);
    // No error line carries a code, a token or a secret this test handled.
    expect(secrets.size).toBeGreaterThan(10);
    for (const secret of secrets) expect(logText.includes(secret), `log contains a secret`).toBe(false);

    // The operator's view: Redis errors and 503s are counted.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/devicegate_redis_errors_total\{kind="unavailable"\} [1-9]/);
    expect(metrics).toMatch(/devicegate_http_requests_total\{route="\/oauth\/token",method="POST",status="503"\} [1-9]/);
    expect(metrics).toMatch(/devicegate_redis_command_duration_seconds_count [1-9]/);
  }, 120_000);

  it('cuts a slow-loris connection close to HTTP_HEADERS_TIMEOUT_MS (1 s here), not after 30 s', async () => {
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    const started = performance.now();
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // headers never finished
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    await new Promise((resolve) => socket.once('close', resolve));
    const elapsed = performance.now() - started;
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(3_000);
  });

  it('cuts a request whose body never arrives close to HTTP_REQUEST_TIMEOUT_MS (2 s here)', async () => {
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    const started = performance.now();
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    await new Promise((resolve) => socket.once('close', resolve));
    const elapsed = performance.now() - started;
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(elapsed).toBeGreaterThanOrEqual(1_900);
    expect(elapsed).toBeLessThan(4_000);
  });
});
