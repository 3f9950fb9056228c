import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/redis-server.js';

/**
 * `npm start` is what the README tells a newcomer to run, and what a process manager may run: a
 * SIGTERM sent to npm must stop the server. npm forwards the signal to its child only; when that child
 * is a shell or a runner that starts node as a grandchild (the tsx CLI does), the server is orphaned
 * and keeps the port. The start script therefore execs node itself (`exec node --import tsx …`).
 */

const ROOT = resolve(import.meta.dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'devicegate-npm-start-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start', () => {
  it('runs the server as npm’s only child, and a SIGTERM to npm stops it', async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DEVICEGATE_DATA_DIR: dataDir, LOG_LEVEL: 'info' };
    delete env.NODE_OPTIONS;
    const npm = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const npmExited = new Promise<void>((resolveExit) => npm.on('exit', () => resolveExit()));

    let serverPid: number | undefined;
    try {
      const deadline = Date.now() + 60_000;
      while (!output.includes('devicegate listening')) {
        if (npm.exitCode !== null) throw new Error(`npm start exited with ${npm.exitCode}:\n${output}`);
        if (Date.now() > deadline) throw new Error(`npm start did not start the server within 60 s:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // pino's line names the process that listens.
      serverPid = (JSON.parse(output.split('\n').find((line) => line.includes('devicegate listening'))!) as { pid: number }).pid;
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

      npm.kill('SIGTERM');
      await npmExited;
      const stopDeadline = Date.now() + 15_000;
      while (isAlive(serverPid) && Date.now() < stopDeadline) await new Promise((r) => setTimeout(r, 100));
      expect(isAlive(serverPid), `the server (pid ${serverPid}) outlived npm: orphaned`).toBe(false);
      expect(output).toContain('"signal":"SIGTERM"');
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
      if (serverPid !== undefined && isAlive(serverPid)) process.kill(serverPid, 'SIGKILL');
    }
  }, 90_000);
});
