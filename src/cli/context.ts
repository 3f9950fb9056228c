import type { Clock } from './clock.js';
import { DeviceGateClient } from '../sdk/index.js';
import type { Launcher } from './browser.js';
import type { Sleep } from './poller.js';
import type { OutputStream } from './terminal.js';
import type { StoredLogin, TokenStore } from './token-store.js';

/** Everything a command touches outside itself, injected so commands run in tests without a process. */
export interface CliContext {
  readonly env: NodeJS.ProcessEnv;
  readonly platform: NodeJS.Platform;
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly clock: Clock;
  readonly sleep: Sleep;
  /** The fetch for the SDK (proxy-aware, with timeouts); made on first use. */
  readonly fetch: () => Promise<typeof globalThis.fetch>;
  /** Aborted by the first Ctrl-C (SIGINT) or SIGTERM. */
  readonly signal: AbortSignal;
  readonly store: TokenStore;
  readonly launchBrowser: (launcher: Launcher) => Promise<boolean>;
}

/** An SDK client bound to the endpoints stored at login (no discovery round trip). */
export function clientFor(login: StoredLogin, fetch: typeof globalThis.fetch): DeviceGateClient {
  return new DeviceGateClient({
    baseUrl: login.issuer,
    fetch,
    endpoints: { token: login.endpoints.token, revocation: login.endpoints.revocation, deviceAuthorization: null, introspection: null },
  });
}

export function writeJson(stream: OutputStream, value: Record<string, unknown>): void {
  stream.write(`${JSON.stringify(value)}\n`);
}
