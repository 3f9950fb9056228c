import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { type PollEvent, type PollOptions, pollForToken, type Sleep } from '../../src/cli/poller.js';
import { OAuthResponseError, type TokenResponse } from '../../src/sdk/index.js';

const TOKENS: TokenResponse = { access_token: 'at', token_type: 'Bearer', expires_in: 600, refresh_token: 'rt' };
const oauth = (error: string, status = 400) => new OAuthResponseError(status, { error: error as never });
const networkDown = () => new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });

/**
 * A scripted token endpoint on a manual clock: each request takes the next answer and records the
 * time (seconds since the codes were issued). The sleeper only moves the clock: no test waits.
 */
function harness(answers: Array<Error | TokenResponse>, overrides: Partial<PollOptions> & { expiresIn?: number } = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const start = clock.now();
  const requests: number[] = [];
  const sleeps: number[] = [];
  const events: PollEvent[] = [];
  const sleep: Sleep = async (ms) => {
    sleeps.push(ms / 1000);
    clock.advance(ms);
  };
  const options: PollOptions = {
    interval: 5,
    expiresAt: start + (overrides.expiresIn ?? 600) * 1000,
    clock,
    sleep,
    onEvent: (event) => events.push(event),
    requestToken: async () => {
      requests.push((clock.now() - start) / 1000);
      const answer = answers.shift();
      if (answer === undefined) throw oauth('authorization_pending');
      if (answer instanceof Error) throw answer;
      return answer;
    },
    ...overrides,
  };
  return { clock, requests, sleeps, events, run: () => pollForToken(options) };
}

describe('pollForToken timing (RFC 8628 §3.4–3.5)', () => {
  it('waits one interval before the first poll, adds 5 s on slow_down for good, and returns the tokens', async () => {
    const h = harness([oauth('authorization_pending'), oauth('slow_down'), oauth('authorization_pending'), oauth('slow_down'), TOKENS]);
    const outcome = await h.run();
    expect(outcome).toEqual({ kind: 'approved', tokens: TOKENS });
    // 5 (first, after one interval), 10, then slow_down → 10 s: 20, 30, then slow_down → 15 s: 45.
    expect(h.requests).toEqual([5, 10, 20, 30, 45]);
    expect(h.events.filter((e) => e.type === 'slow_down')).toEqual([
      { type: 'slow_down', interval: 10 },
      { type: 'slow_down', interval: 15 },
    ]);
  });

  it('never polls before the first interval even when the server sends a 1 s interval', async () => {
    const h = harness([TOKENS], { interval: 1 });
    await h.run();
    expect(h.requests).toEqual([1]);
  });

  it('uses 5 s when the server sends no interval, and never less than 1 s', async () => {
    const absent = harness([TOKENS], { interval: undefined });
    await absent.run();
    expect(absent.requests).toEqual([5]);
    const zero = harness([oauth('authorization_pending'), TOKENS], { interval: 0 });
    await zero.run();
    expect(zero.requests).toEqual([1, 2]);
  });

  it('stops at expires_in without sending a request at or after it', async () => {
    const h = harness([], { expiresIn: 23 });
    expect(await h.run()).toEqual({ kind: 'expired' });
    expect(h.requests).toEqual([5, 10, 15, 20]);
    expect(h.clock.now() - Date.UTC(2026, 0, 1)).toBe(23_000); // slept exactly until expiry, not past it
    expect(h.sleeps.at(-1)).toBe(3);
  });

  it('treats expired_token as expiry and access_denied as denial', async () => {
    expect(await harness([oauth('expired_token')]).run()).toEqual({ kind: 'expired' });
    const denied = harness([oauth('authorization_pending'), new OAuthResponseError(400, { error: 'access_denied', error_description: 'the user denied the request' })]);
    expect(await denied.run()).toEqual({ kind: 'denied', description: 'the user denied the request' });
    expect(denied.requests).toEqual([5, 10]);
  });

  it('stops on an error retrying cannot fix (invalid_grant, invalid_client)', async () => {
    const outcome = await harness([oauth('invalid_grant')]).run();
    expect(outcome).toMatchObject({ kind: 'refused', error: { error: 'invalid_grant' } });
    expect(await harness([oauth('invalid_client', 401)]).run()).toMatchObject({ kind: 'refused' });
  });

  it('retries network errors with exponential backoff from the interval, capped, and resets after an answer', async () => {
    const h = harness([networkDown(), networkDown(), networkDown(), networkDown(), networkDown(), oauth('authorization_pending'), networkDown(), TOKENS], {
      maxBackoffMs: 60_000,
    });
    expect(await h.run()).toEqual({ kind: 'approved', tokens: TOKENS });
    // 5 fails → wait 10, fails → 20, → 40, → 60 (cap), → 60, then pending → 5, fails → 10.
    expect(h.requests).toEqual([5, 15, 35, 75, 135, 195, 200, 210]);
    expect(h.events.filter((e) => e.type === 'retry').map((e) => (e as { delayMs: number }).delayMs / 1000)).toEqual([10, 20, 40, 60, 60, 10]);
  });

  it('retries 5xx, 429 and temporarily_unavailable like network errors', async () => {
    // The SDK turns a body-less gateway answer into server_error with the status.
    const h = harness([oauth('server_error', 500), oauth('temporarily_unavailable', 503), oauth('server_error', 429), TOKENS]);
    expect(await h.run()).toEqual({ kind: 'approved', tokens: TOKENS });
    expect(h.requests).toEqual([5, 15, 35, 75]);
    // An RFC slow_down is honoured whatever the status it came with.
    const slow = harness([oauth('slow_down', 429), TOKENS]);
    await slow.run();
    expect(slow.requests).toEqual([5, 15]);
  });

  it('gives up at expiry while the server stays unreachable, never retrying past it', async () => {
    const failures = Array.from({ length: 50 }, networkDown);
    const h = harness(failures, { expiresIn: 100 });
    const outcome = await h.run();
    expect(outcome.kind).toBe('unreachable');
    expect(h.requests).toEqual([5, 15, 35, 75]);
    expect(h.requests.every((t) => t < 100)).toBe(true);
    expect(h.clock.now() - Date.UTC(2026, 0, 1)).toBe(100_000);
  });

  it('stops at once on Ctrl-C while sleeping, without another request', async () => {
    const controller = new AbortController();
    const h = harness([oauth('authorization_pending')], { signal: controller.signal });
    let sleeps = 0;
    const outcome = await pollForToken({
      interval: 5,
      expiresAt: h.clock.now() + 600_000,
      clock: h.clock,
      signal: controller.signal,
      sleep: async (ms) => {
        if (++sleeps === 2) controller.abort();
        h.clock.advance(ms);
      },
      requestToken: async () => {
        h.requests.push(h.clock.now());
        throw oauth('authorization_pending');
      },
    });
    expect(outcome).toEqual({ kind: 'interrupted' });
    expect(h.requests).toHaveLength(1);
  });

  it('aborts a request in flight on Ctrl-C', async () => {
    const controller = new AbortController();
    const clock = new ManualClock();
    let requestSignal: AbortSignal | undefined;
    const outcome = await pollForToken({
      interval: 5,
      expiresAt: clock.now() + 600_000,
      clock,
      signal: controller.signal,
      sleep: async (ms) => clock.advance(ms),
      requestToken: (signal) =>
        new Promise((_, reject) => {
          requestSignal = signal;
          signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
          controller.abort();
        }),
    });
    expect(outcome).toEqual({ kind: 'interrupted' });
    expect(requestSignal?.aborted).toBe(true);
  });
});
