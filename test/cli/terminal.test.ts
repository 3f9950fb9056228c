import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { startRealTimeTestServer } from '../support/server.js';
import { childEnv } from './support.js';

const BIN = resolve('bin/devicegate.mjs');
const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/**
 * Runs a shell command line on a pseudo-terminal (util-linux `script`), so the CLI sees a TTY on
 * stdout and stderr unless the command line redirects them. `onOutput` sees the terminal's output so far.
 */
function inTerminal(commandLine: string, env: NodeJS.ProcessEnv, onOutput: (screen: string) => void): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('script', ['-qfec', commandLine, '/dev/null'], { env: { ...env, TERM: 'xterm-256color' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      screen += chunk;
      onOutput(screen);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, screen });
    });
  });
}

describe('devicegate login in a terminal (pseudo-terminal)', { timeout: 60_000 }, () => {
  let server: RunningServer;
  let home: string;
  beforeAll(async () => {
    server = await startRealTimeTestServer('memory');
    home = mkdtempSync(join(tmpdir(), 'devicegate-tty-'));
  });
  afterAll(() => server.close());

  /** Approves the first user code that appears on the terminal. */
  function approver() {
    let started: Promise<void> | undefined;
    return {
      onOutput: (screen: string) => {
        const code = /\b([A-Z2-9]{4}-[A-Z2-9]{4})\b/.exec(screen.replace(/\x1b\[[0-9;]*m/g, ''))?.[1];
        if (code && !started) {
          started = (async () => {
            await new Promise((r) => setTimeout(r, 300));
            await server.stores.grants.decide(code.replace('-', ''), { kind: 'approve', subject: 'alice' }, Date.now());
          })();
        }
      },
      done: () => started,
    };
  }
  const login = (profile: string, extra = '') =>
    `${quote(process.execPath)} ${quote(BIN)} login --issuer ${quote(server.url)} --client-id fast-cli --profile ${profile} ${extra}`;

  it('shows the URI, the code and a QR block on stderr, a spinner with the time left; stdout stays empty', async () => {
    const stdoutFile = join(home, 'human.out');
    const approve = approver();
    const { code, screen } = await inTerminal(`${login('tty')} > ${quote(stdoutFile)}`, childEnv(home), approve.onOutput);
    await approve.done();
    expect(code).toBe(0);
    const plain = screen.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
    expect(plain).toContain(`${server.url}/device`);
    expect(plain).toMatch(/and enter the code:\s+[A-Z2-9]{4}-[A-Z2-9]{4}/);
    // A QR block: at least 10 lines made of the half-block characters, drawn black on white.
    const qrLines = plain.split(/\r?\n/).filter((line) => /^[ █▀▄]{20,}$/.test(line) && /[█▀▄]/.test(line));
    expect(qrLines.length).toBeGreaterThanOrEqual(10);
    expect(screen).toContain('\x1b[30;47m');
    expect(plain).toMatch(/device\?user_code=[A-Z2-9]{4}-[A-Z2-9]{4}/);
    expect(plain).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Waiting for approval… \d+:\d\d left/);
    expect(plain).toContain('Logged in to');
    expect(readFileSync(stdoutFile, 'utf8')).toBe('');
  });

  it('--json on a terminal: the terminal shows only JSON lines (no QR, no spinner, no text)', async () => {
    const approve = approver();
    const { code, screen } = await inTerminal(login('tty-json', '--json'), childEnv(home), approve.onOutput);
    await approve.done();
    expect(code).toBe(0);
    const lines = screen.split(/\r?\n/).filter((line) => line.length);
    expect(lines).toHaveLength(2);
    expect(lines.map((line) => JSON.parse(line).event)).toEqual(['device_authorization', 'approved']);
  });

  it('--json --qr: the QR goes to the terminal on stderr while stdout (a file) has only the JSON lines', async () => {
    const stdoutFile = join(home, 'json.out');
    const approve = approver();
    const { code, screen } = await inTerminal(`${login('tty-qr', '--json --qr')} > ${quote(stdoutFile)}`, childEnv(home), approve.onOutput);
    await approve.done();
    expect(code).toBe(0);
    expect(screen).toMatch(/[█▀▄]{5}/);
    expect(screen).not.toContain('{"event"');
    const lines = readFileSync(stdoutFile, 'utf8').trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line).event)).toEqual(['device_authorization', 'approved']);
  });
});
