import { systemClock } from './clock.js';
import { configHome } from './config-home.js';
import type { CliContext } from './context.js';
import { CliError, ExitCode } from './exit-codes.js';
import { createFetch } from './net.js';
import { TokenStore } from './token-store.js';

// What every run of a `devicegate` command shares, whether commander parsed its options (main.ts) or
// the token fast path did (src/bin.ts): the real process as a CliContext, signal handling, and the exit.

/**
 * The first Ctrl-C (or SIGTERM) aborts the command's signal, so it can stop cleanly and say so; a
 * second one exits at once.
 */
const interruption = new AbortController();
function onSignal(code: ExitCode) {
  return () => {
    if (interruption.signal.aborted) process.exit(code);
    interruption.abort(new CliError(code, 'interrupted', code === ExitCode.terminated ? 'terminated' : 'interrupted'));
  };
}

export async function context(): Promise<CliContext> {
  process.on('SIGINT', onSignal(ExitCode.interrupted));
  process.on('SIGTERM', onSignal(ExitCode.terminated));
  let fetch: Promise<typeof globalThis.fetch> | undefined;
  return {
    env: process.env,
    platform: process.platform,
    stdout: process.stdout,
    stderr: process.stderr,
    clock: systemClock,
    // poller.js brings the SDK (openapi-fetch): load it only when a command waits.
    sleep: async (ms, signal) => (await import('./poller.js')).realSleep(ms, signal),
    fetch: () => (fetch ??= createFetch(process.env)),
    signal: interruption.signal,
    store: new TokenStore(configHome()),
    launchBrowser: async (launcher) => (await import('./browser.js')).launchBrowser(launcher),
  };
}

/** Exits with `code` once stdout and stderr are flushed (keep-alive sockets must not delay the exit). */
export function finish(code: number): void {
  // A command that finished its work despite a first Ctrl-C (token, logout) still reports it.
  const reason: unknown = interruption.signal.reason;
  const exitCode = code === ExitCode.ok && reason instanceof CliError ? reason.exitCode : code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(exitCode)));
}

/** A bug or an unusable file system: the message, and the stack with DEVICEGATE_DEBUG=1; exit 1. */
export function crash(error: unknown): never {
  const detail = error instanceof Error ? (process.env.DEVICEGATE_DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
  process.stderr.write(`devicegate: ${detail}\n`);
  process.exit(ExitCode.failure);
}
