import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliContext } from '../../src/cli/context.js';
import { createFetch } from '../../src/cli/net.js';
import { TokenStore } from '../../src/cli/token-store.js';
import { ManualClock } from '../../src/domain/clock.js';

/** Captures what a command writes; `isTTY` as given. */
export class Capture {
  text = '';
  constructor(readonly isTTY = false) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  lines(): string[] {
    return this.text.split('\n').filter(Boolean);
  }
}

export interface TestContext extends CliContext {
  readonly stdout: Capture;
  readonly stderr: Capture;
  readonly clock: ManualClock;
  readonly abort: AbortController;
  readonly launched: string[];
}

/** A CliContext for running commands in-process: a manual clock whose sleeps only advance it, a temp home. */
export function testContext(overrides: Partial<CliContext> & { home?: string; tty?: boolean } = {}): TestContext {
  const abort = new AbortController();
  const clock = new ManualClock(Date.now());
  const launched: string[] = [];
  const home = overrides.home ?? mkdtempSync(join(tmpdir(), 'devicegate-cli-'));
  return {
    env: {},
    platform: 'linux',
    stdout: new Capture(overrides.tty),
    stderr: new Capture(overrides.tty),
    clock,
    sleep: async (ms) => clock.advance(ms),
    fetch: () => createFetch({}, 5_000),
    signal: abort.signal,
    abort,
    store: new TokenStore(home),
    launched,
    launchBrowser: async (launcher) => {
      launched.push([launcher.command, ...launcher.args].join(' '));
      return true;
    },
    ...overrides,
  } as TestContext;
}

export type Handler = (request: IncomingMessage & { form: URLSearchParams; path: string }, response: ServerResponse) => void;

/** A bare HTTP server on a free loopback port, for playing another vendor's authorization server. */
export async function fakeServer(handler: (base: string) => Handler): Promise<{ base: string; close(): Promise<void>; server: Server }> {
  let handle: Handler = () => undefined;
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = new URL(request.url ?? '/', 'http://x');
    handle(Object.assign(request, { form: new URLSearchParams(Buffer.concat(chunks).toString()), path: url.pathname }), response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  handle = handler(base);
  return { base, server, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(body));
}

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Environment for a child CLI: the test's home, and none of the caller's proxy or devicegate settings. */
export function childEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DEVICEGATE_HOME: home };
  for (const name of Object.keys(env)) {
    if (/^(https?|no|all)_proxy$/i.test(name) || (name.startsWith('DEVICEGATE_') && name !== 'DEVICEGATE_HOME')) delete env[name];
  }
  return { ...env, ...extra };
}

/**
 * Runs `node bin/devicegate.mjs ...args` as a child process; `onLine` sees each stdout line as it
 * arrives (to approve the code the CLI just printed, or to interrupt it).
 */
export function runCli(
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; onLine?: (line: string, child: import('node:child_process').ChildProcess) => void; timeoutMs?: number },
): Promise<CliRun> {
  return import('node:child_process').then(
    ({ spawn }) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['bin/devicegate.mjs', ...args], { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        let pending = '';
        const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          stdout += chunk;
          pending += chunk;
          let newline: number;
          while ((newline = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, newline);
            pending = pending.slice(newline + 1);
            options.onLine?.(line, child);
          }
        });
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
        child.on('error', reject);
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ code, signal, stdout, stderr });
        });
      }),
  );
}
