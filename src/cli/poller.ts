import type { Clock } from './clock.js';
import { OAuthResponseError, type TokenResponse } from '../sdk/index.js';

/** Sleeps `ms`, or less when `signal` aborts (then it resolves; it never rejects). */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

export type PollOutcome =
  | { readonly kind: 'approved'; readonly tokens: TokenResponse }
  /** `access_denied`. */
  | { readonly kind: 'denied'; readonly description?: string | undefined }
  /** `expired_token`, or `expires_in` passed without a decision. */
  | { readonly kind: 'expired' }
  /** The server refused (`invalid_grant`, `invalid_client`, …): retrying cannot help. */
  | { readonly kind: 'refused'; readonly error: OAuthResponseError }
  /** Network or server errors until the code expired. */
  | { readonly kind: 'unreachable'; readonly cause: unknown }
  | { readonly kind: 'interrupted' };

export type PollEvent =
  /** Sleeping until `nextPollAt` (ms since the epoch); `interval` is the current one in seconds. */
  | { readonly type: 'waiting'; readonly nextPollAt: number; readonly interval: number }
  | { readonly type: 'pending' }
  /** The server said `slow_down`: from now on `interval` seconds (5 more than before). */
  | { readonly type: 'slow_down'; readonly interval: number }
  /** A network or server error; the next attempt is in `delayMs`. */
  | { readonly type: 'retry'; readonly failures: number; readonly delayMs: number; readonly cause: unknown };

export interface PollOptions {
  /** One token request (the device_code grant); `signal` aborts it. */
  readonly requestToken: (signal: AbortSignal) => Promise<TokenResponse>;
  /** `interval` from the device authorization response (RFC 8628 §3.2: 5 when absent). */
  readonly interval?: number | undefined;
  /** When the codes expire, ms since the epoch (the request's start + `expires_in`). */
  readonly expiresAt: number;
  readonly clock: Clock;
  readonly sleep: Sleep;
  /** Ctrl-C: stops waiting and aborts a request in flight. */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: PollEvent) => void;
  /** Longest wait between attempts after network errors (they double from `interval`). Default 60 s. */
  readonly maxBackoffMs?: number;
}

/** RFC 8628 §3.2: the default interval when the server sends none. */
export const DEFAULT_INTERVAL = 5;
/** RFC 8628 §3.5: every slow_down adds 5 seconds to the interval, for this and all later polls. */
export const SLOW_DOWN_STEP = 5;

/**
 * Polls the token endpoint as RFC 8628 §3.4–3.5 asks, and as most CLIs do not: the first poll comes
 * one interval after the codes were issued (never at once), every `slow_down` adds 5 s for good,
 * network and server errors back off exponentially (from the interval, doubling, capped, never
 * past expiry), and no request is sent at or after `expiresAt`. Time comes only from `clock` and
 * `sleep`, so tests run it in zero real time.
 */
export async function pollForToken(options: PollOptions): Promise<PollOutcome> {
  const { clock, sleep, expiresAt, signal, onEvent } = options;
  const maxBackoffMs = options.maxBackoffMs ?? 60_000;
  let interval = Math.max(1, options.interval ?? DEFAULT_INTERVAL); // 0 would be a busy loop
  let delayMs = interval * 1000;
  let failures = 0;
  let lastFailure: unknown;
  const aborter = new AbortController();
  const onAbort = () => aborter.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const stop = (): PollOutcome => (failures > 0 ? { kind: 'unreachable', cause: lastFailure } : { kind: 'expired' });
  try {
    for (;;) {
      if (signal?.aborted) return { kind: 'interrupted' };
      const now = clock.now();
      if (now >= expiresAt) return stop();
      const wakeAt = Math.min(now + delayMs, expiresAt);
      onEvent?.({ type: 'waiting', nextPollAt: wakeAt, interval });
      await sleep(wakeAt - now, signal);
      if (signal?.aborted) return { kind: 'interrupted' };
      if (clock.now() >= expiresAt) return stop();

      let outcome: PollOutcome | 'retry' | 'continue';
      try {
        outcome = { kind: 'approved', tokens: await options.requestToken(aborter.signal) };
      } catch (error) {
        if (signal?.aborted) return { kind: 'interrupted' };
        outcome = classify(error);
        if (outcome === 'continue') {
          failures = 0;
          if (error instanceof OAuthResponseError && error.error === 'slow_down') {
            interval += SLOW_DOWN_STEP;
            onEvent?.({ type: 'slow_down', interval });
          } else {
            onEvent?.({ type: 'pending' });
          }
          delayMs = interval * 1000;
          continue;
        }
        if (outcome === 'retry') {
          failures += 1;
          lastFailure = error;
          delayMs = Math.max(interval * 1000, Math.min(interval * 1000 * 2 ** failures, maxBackoffMs));
          onEvent?.({ type: 'retry', failures, delayMs, cause: error });
          continue;
        }
      }
      return outcome;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** What one failed poll means. */
function classify(error: unknown): PollOutcome | 'retry' | 'continue' {
  if (!(error instanceof OAuthResponseError)) return 'retry'; // network error, timeout, unparseable body
  switch (error.error) {
    case 'authorization_pending':
    case 'slow_down':
      return 'continue';
    case 'access_denied':
      return { kind: 'denied', description: error.errorDescription };
    case 'expired_token':
      return { kind: 'expired' };
    case 'temporarily_unavailable':
      return 'retry';
    default:
      // 5xx (and a gateway's 429) are the server's trouble, not an answer: try again later.
      return error.status >= 500 || error.status === 429 ? 'retry' : { kind: 'refused', error };
  }
}
