import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { form } from '../support/server.js';
import { logLines, spawnDevicegate } from './process.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('WORKERS: one process per core behind one port (issue 13)', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('refuses several workers on the memory store, naming the variable', () => {
    expect(() => loadConfig({ WORKERS: '2' })).toThrow(/WORKERS: several workers need a shared store/);
    expect(() => loadConfig({ WORKERS: '0' })).toThrow(/WORKERS/);
    expect(loadConfig({ WORKERS: 'auto', REDIS_URL: 'redis://127.0.0.1:6379', DEVICEGATE_SECRET: 'x'.repeat(32) }).workers).toBeGreaterThanOrEqual(1);
  });

  it('serves one device flow across two workers on one port, then drains and exits 0 on SIGTERM', async () => {
    const server = await spawnDevicegate({ REDIS_URL: redis.url, WORKERS: '2' });
    try {
      // Both workers listening (each logs once, with its own pid).
      await expect
        .poll(() => new Set(logLines(server.output()).filter((line) => line.msg === 'devicegate listening').map((line) => line.pid)).size, {
          timeout: 30_000,
        })
        .toBe(2);
      // Grants created by whichever worker a connection reaches are seen by all: 20 authorizations,
      // each polled on a fresh connection (answers come from both workers).
      for (let i = 0; i < 20; i++) {
        const authorization = await fetch(`${server.url}/oauth/device/authorize`, {
          method: 'POST',
          headers: { ...FORM, connection: 'close' },
          body: form({ client_id: 'demo-cli', scope: 'openid' }),
        });
        expect(authorization.status).toBe(200);
        const { device_code } = (await authorization.json()) as { device_code: string };
        const poll = await fetch(`${server.url}/oauth/token`, {
          method: 'POST',
          headers: { ...FORM, connection: 'close' },
          body: form({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code, client_id: 'demo-cli' }),
        });
        expect(poll.status).toBe(400);
        expect(((await poll.json()) as { error: string }).error).toBe('authorization_pending');
      }
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
  }, 90_000);
});
