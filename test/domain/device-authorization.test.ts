import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { authorizeDevice, type DeviceAuthorizationDeps, grantedScope } from '../../src/domain/device-authorization.js';
import { InvalidScopeError, TemporarilyUnavailableError } from '../../src/domain/errors.js';
import { MemoryDeviceGrantRepository } from '../../src/store/memory/grants.js';
import { RedisDeviceGrantRepository } from '../../src/store/redis/grants.js';
import type { DeviceGrantRepository } from '../../src/domain/grant-repository.js';
import { startTestRedis } from '../support/redis-server.js';
import { testClients } from '../support/server.js';

const requester = { ip: null, userAgent: null };

async function deps(store: DeviceGrantRepository, userCodes: string[]): Promise<DeviceAuthorizationDeps> {
  return {
    store,
    clock: new ManualClock(Date.now()),
    issuer: 'https://auth.example.test',
    defaultPolicy: { expires_in: 600, interval: 5 },
    generateUserCode: () => userCodes.shift() ?? 'ZZZZZZZZ',
  };
}

describe.each(['memory', 'redis'] as const)('user-code collisions (%s store)', (kind) => {
  async function openStore(): Promise<{ store: DeviceGrantRepository; close: () => Promise<void> }> {
    if (kind === 'memory') {
      const store = new MemoryDeviceGrantRepository();
      return { store, close: () => store.close() };
    }
    const redis = await startTestRedis();
    const store = await RedisDeviceGrantRepository.connect(redis.url, { keyPrefix: redis.prefix() });
    return { store, close: async () => {
      await store.close();
      await redis.close();
    } };
  }

  it('retries with a fresh user code when a live grant holds the drawn one', async () => {
    const { store, close } = await openStore();
    const [client] = await testClients();
    const first = await authorizeDevice(await deps(store, ['BBBBBBBB']), client!, { requester });
    expect(first.user_code).toBe('BBBB-BBBB');
    // The second request draws the taken code twice before a free one.
    const second = await authorizeDevice(await deps(store, ['BBBBBBBB', 'BBBBBBBB', 'CCCCCCCC']), client!, { requester });
    expect(second.user_code).toBe('CCCC-CCCC');
    expect((await store.findByUserCode('BBBBBBBB'))?.deviceCodeHash).not.toBe((await store.findByUserCode('CCCCCCCC'))?.deviceCodeHash);
    await close();
  });

  it('gives up with temporarily_unavailable after five collisions instead of looping', async () => {
    const { store, close } = await openStore();
    const [client] = await testClients();
    await authorizeDevice(await deps(store, ['DDDDDDDD']), client!, { requester });
    await expect(authorizeDevice(await deps(store, Array(5).fill('DDDDDDDD')), client!, { requester })).rejects.toBeInstanceOf(
      TemporarilyUnavailableError,
    );
    await close();
  });
});

describe('grantedScope (RFC 6749 §3.3)', () => {
  const client = async (scope: string) => ({ ...(await testClients())[0]!, scope });

  it('grants every registered scope when none is asked for, and only registered ones when asked', async () => {
    const registered = await client('openid profile  mcp');
    expect(grantedScope(registered, undefined)).toEqual(['openid', 'profile', 'mcp']);
    expect(grantedScope(registered, 'mcp openid mcp')).toEqual(['mcp', 'openid']);
    expect(() => grantedScope(registered, 'admin')).toThrow(InvalidScopeError);
    expect(() => grantedScope(registered, 'openid  mcp')).toThrow(InvalidScopeError);
  });

  it('follows a client whose registered scope changed (the set is kept per configuration object and checked against it)', async () => {
    const registered = await client('openid');
    expect(grantedScope(registered, undefined)).toEqual(['openid']);
    (registered as { scope: string }).scope = 'openid mcp';
    expect(grantedScope(registered, 'mcp')).toEqual(['mcp']);
    (registered as { scope: string }).scope = 'profile';
    expect(() => grantedScope(registered, 'mcp')).toThrow(InvalidScopeError);
  });
});
