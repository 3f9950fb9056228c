import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { TokenStore } from '../../src/cli/token-store.js';
import { ensureFresh, expiryOf, isFresh } from '../../src/cli/tokens.js';
import { ManualClock } from '../../src/domain/clock.js';
import { OAuthResponseError, type TokenResponse } from '../../src/sdk/index.js';
import { sampleLogin } from './fixtures.js';

const EXPIRY = Date.parse('2026-01-01T00:10:00.000Z');

describe('refresh logic', () => {
  let store: TokenStore;
  let clock: ManualClock;
  let calls: string[];
  const answer = (response: TokenResponse | Error) => async (login: { refresh_token?: string }) => {
    calls.push(login.refresh_token ?? '(none)');
    if (response instanceof Error) throw response;
    return response;
  };
  const rotated: TokenResponse = { access_token: 'access-2', token_type: 'Bearer', expires_in: 600, refresh_token: 'refresh-2' };

  beforeEach(async () => {
    store = new TokenStore(mkdtempSync(join(tmpdir(), 'devicegate-refresh-')));
    clock = new ManualClock(EXPIRY - 10 * 60_000);
    calls = [];
    await store.write(sampleLogin());
  });
  const entry = async () => (await store.read(sampleLogin()))!;

  it('uses the stored token while it has more than the minimum validity left', async () => {
    clock.set(EXPIRY - 61_000);
    const login = await ensureFresh(await entry(), { store, clock, refresh: answer(rotated) });
    expect(login.access_token).toBe('access-1');
    expect(calls).toEqual([]);
  });

  it('refreshes within 60 s of expiry, persists the new access token and the rotated refresh token', async () => {
    clock.set(EXPIRY - 59_000);
    const login = await ensureFresh(await entry(), { store, clock, refresh: answer(rotated) });
    expect(calls).toEqual(['refresh-1']);
    expect(login).toMatchObject({ access_token: 'access-2', refresh_token: 'refresh-2', scope: 'openid' });
    expect(login.expires_at).toBe(new Date(clock.now() + 600_000).toISOString());
    expect((await entry()).login).toEqual(login); // stored before it is handed out
  });

  it('refreshes an expired token; keeps the old refresh token when none is returned (RFC 6749 §6)', async () => {
    clock.set(EXPIRY + 3_600_000);
    const login = await ensureFresh(await entry(), {
      store,
      clock,
      refresh: answer({ access_token: 'access-3', token_type: 'Bearer', expires_in: 60, scope: 'openid profile' }),
    });
    expect(login).toMatchObject({ access_token: 'access-3', refresh_token: 'refresh-1', scope: 'openid profile' });
  });

  it('honours --min-validity', async () => {
    clock.set(EXPIRY - 5 * 60_000);
    await ensureFresh(await entry(), { store, clock, minValiditySeconds: 600, refresh: answer(rotated) });
    expect(calls).toHaveLength(1);
  });

  it('invalid_grant (expired, revoked, reused) means log in again: exit 7', async () => {
    clock.set(EXPIRY);
    const failure = ensureFresh(await entry(), { store, clock, refresh: answer(new OAuthResponseError(400, { error: 'invalid_grant' })) });
    await expect(failure).rejects.toMatchObject({ exitCode: ExitCode.loginRequired, code: 'login_required' });
    await expect(failure).rejects.toThrow(/run devicegate login --issuer https:\/\/auth.example.com --client-id demo-cli/);
  });

  it('no refresh token stored means log in again: exit 7, without a request', async () => {
    await store.write(sampleLogin({ refresh_token: undefined }));
    clock.set(EXPIRY);
    await expect(ensureFresh(await entry(), { store, clock, refresh: answer(rotated) })).rejects.toMatchObject({ exitCode: 7 });
    expect(calls).toEqual([]);
  });

  it('network and server errors are exit 5, other refusals exit 6; nothing stored changes', async () => {
    clock.set(EXPIRY);
    const network = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
    await expect(ensureFresh(await entry(), { store, clock, refresh: answer(network) })).rejects.toMatchObject({
      exitCode: ExitCode.network,
      message: expect.stringContaining('ECONNREFUSED'),
    });
    await expect(
      ensureFresh(await entry(), { store, clock, refresh: answer(new OAuthResponseError(503, { error: 'temporarily_unavailable' })) }),
    ).rejects.toMatchObject({ exitCode: ExitCode.network });
    await expect(
      ensureFresh(await entry(), { store, clock, refresh: answer(new OAuthResponseError(401, { error: 'invalid_client' })) }),
    ).rejects.toMatchObject({ exitCode: ExitCode.refused, code: 'invalid_client' });
    expect((await entry()).login).toEqual(sampleLogin());
  });

  it('concurrent callers (two processes) refresh once: the second finds the fresh token under the lock', async () => {
    clock.set(EXPIRY);
    const other = new TokenStore(store.home); // as another process would
    const slow = async (login: { refresh_token?: string }) => {
      calls.push(login.refresh_token ?? '');
      await new Promise((r) => setTimeout(r, 50));
      return rotated;
    };
    const [a, b] = await Promise.all([
      ensureFresh(await entry(), { store, clock, refresh: slow }),
      ensureFresh((await other.read(sampleLogin()))!, { store: other, clock, refresh: slow }),
    ]);
    expect(calls).toEqual(['refresh-1']); // refresh-1 presented once: no reuse detection triggered
    expect(a.access_token).toBe('access-2');
    expect(b.access_token).toBe('access-2');
  });

  it('expiry: expires_in counted from the request, else the JWT exp, else unknown (used until refused)', async () => {
    expect(expiryOf({ access_token: 'x', expires_in: 60 }, Date.UTC(2026, 0, 1))).toBe('2026-01-01T00:01:00.000Z');
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(Date.UTC(2026, 0, 2) / 1000).sign(new Uint8Array(32));
    expect(expiryOf({ access_token: jwt } as TokenResponse, 0)).toBe('2026-01-02T00:00:00.000Z');
    expect(expiryOf({ access_token: 'opaque' } as TokenResponse, 0)).toBeNull();
    expect(isFresh(sampleLogin({ expires_at: null }), Date.UTC(2030, 0, 1), 60)).toBe(true);
  });
});
