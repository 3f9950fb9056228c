import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normaliseUserCode } from '../../src/domain/codes.js';
import { RedisDeviceGrantRepository } from '../../src/store/redis/grants.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { basic, DEVICE_GRANT, form } from '../support/server.js';
import { logLines, spawnDevicegate } from './process.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

interface Answer {
  readonly kind: string;
  readonly status: number;
  readonly body: string;
}

describe('SIGTERM during a burst (issue 10 §2)', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(() => redis.close());

  it('answers every request in flight, hands approved polls their tokens, closes Redis and exits 0', async () => {
    const devicegate = await spawnDevicegate({ REDIS_URL: redis.url, SHUTDOWN_TIMEOUT_MS: '20000' });
    const { url } = devicegate;
    const post = async (path: string, body: string, headers: Record<string, string> = {}) => {
      const response = await fetch(`${url}${path}`, { method: 'POST', headers: { ...FORM, ...headers }, body });
      return (await response.json()) as Record<string, string>;
    };

    // 60 grants approved (straight through the store, as the pages would), 60 left pending.
    const grants = await Promise.all(
      Array.from({ length: 120 }, () => post('/oauth/device/authorize', form({ client_id: 'fast-cli', scope: 'openid' }))),
    );
    const store = await RedisDeviceGrantRepository.connect(redis.url);
    const approved = grants.slice(0, 60);
    const pending = grants.slice(60);
    for (const grant of approved) {
      expect(await store.decide(normaliseUserCode(grant.user_code!)!, { kind: 'approve', subject: 'alice' }, Date.now())).toBe('approved');
    }

    // Every connection is accepted and warm before the burst: each request below is in flight on an
    // open connection, so nothing may be lost to a listener that closed or an idle-close.
    const requests: { kind: string; path: string; method: 'GET' | 'POST'; body?: string; headers?: Record<string, string> }[] = [
      ...approved.map((g) => ({ kind: 'approved-poll', path: '/oauth/token', method: 'POST' as const, body: form({ grant_type: DEVICE_GRANT, device_code: g.device_code!, client_id: 'fast-cli' }) })),
      ...pending.map((g) => ({ kind: 'pending-poll', path: '/oauth/token', method: 'POST' as const, body: form({ grant_type: DEVICE_GRANT, device_code: g.device_code!, client_id: 'fast-cli' }) })),
      ...Array.from({ length: 50 }, () => ({ kind: 'authorize', path: '/oauth/device/authorize', method: 'POST' as const, body: form({ client_id: 'demo-cli', scope: 'openid' }) })),
      // Slow ones (a wrong confidential-client secret costs a password hash): in flight at SIGTERM.
      ...Array.from({ length: 30 }, () => ({ kind: 'introspect', path: '/oauth/introspect', method: 'POST' as const, body: form({ token: 'x' }), headers: { authorization: basic('basic-service', 'wrong secret') } })),
      ...Array.from({ length: 20 }, () => ({ kind: 'discovery', path: '/.well-known/oauth-authorization-server', method: 'GET' as const })),
      ...Array.from({ length: 20 }, () => ({ kind: 'page', path: '/device', method: 'GET' as const })),
    ];
    expect(requests.length).toBeGreaterThanOrEqual(200);
    const clients = requests.map(() => new Client(url, { pipelining: 1, keepAliveTimeout: 30_000 }));
    await Promise.all(clients.map(async (client) => (await client.request({ path: '/healthz', method: 'GET' })).body.text()));

    let answered = 0;
    let signalled!: () => void;
    const sigtermSent = new Promise<void>((resolve) => (signalled = resolve));
    const burst = requests.map(async (request, i): Promise<Answer> => {
      const response = await clients[i]!.request({
        path: request.path,
        method: request.method,
        headers: { ...(request.method === 'POST' ? FORM : {}), ...request.headers },
        ...(request.body !== undefined && { body: request.body }),
      });
      const body = await response.body.text();
      if (++answered === 20) {
        devicegate.child.kill('SIGTERM');
        signalled();
      }
      return { kind: request.kind, status: response.statusCode, body };
    });
    const results = await Promise.allSettled(burst);
    await sigtermSent;
    const exitCode = await devicegate.exited;
    await Promise.all(clients.map((client) => client.close().catch(() => {})));

    const failures = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
    expect(failures, 'requests without a complete answer').toEqual([]);
    const answers = results.map((r) => (r as PromiseFulfilledResult<Answer>).value);
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    // A poll whose script consumed the grant always gets its tokens (the approval is never lost).
    const approvedAnswers = answers.filter((a) => a.kind === 'approved-poll');
    expect(approvedAnswers.map((a) => a.status)).toEqual(approvedAnswers.map(() => 200));
    for (const answer of approvedAnswers) expect(JSON.parse(answer.body).access_token).toEqual(expect.any(String));
    for (const answer of answers.filter((a) => a.kind === 'pending-poll')) expect(JSON.parse(answer.body).error).toBe('authorization_pending');

    expect(exitCode).toBe(0);
    const events = logLines(devicegate.output()).map((line) => line.event);
    expect(events).toContain('drain_start');
    expect(events).toContain('drain_end');
    expect(events).not.toContain('drain_timeout');
    // The drain began while answers were still owed: SIGTERM really came mid-burst.
    expect(answered).toBe(requests.length);
    const drainStart = logLines(devicegate.output()).find((line) => line.event === 'drain_start')!;
    expect(drainStart.openConnections).toBeGreaterThan(0);
    // Redis was closed by the server (QUIT), not left behind: only our own store connection remains.
    await store.close();
  }, 120_000);
});
