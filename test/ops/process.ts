import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/redis-server.js';
import { testConfigFile } from '../support/server.js';

/** A real devicegate process (`node --import tsx src/main.ts`) and everything it wrote to stdout/stderr. */
export interface DevicegateProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** stdout + stderr so far (pino JSON lines and any message). */
  output(): string;
  exited: Promise<number | null>;
}

/** Starts the server as production does (node directly, no npm/tsx wrapper), on the test config. */
export async function spawnDevicegate(env: Record<string, string>): Promise<DevicegateProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'devicegate-proc-'));
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(await testConfigFile()));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: '127.0.0.1',
      DEVICEGATE_CONFIG: configPath,
      DEVICEGATE_DATA_DIR: join(dir, 'data'),
      LOG_LEVEL: 'info',
      // Required with REDIS_URL (it seals the keys shared through Redis); harmless without.
      DEVICEGATE_SECRET: 'test-secret-test-secret-test-secret-0123',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  // Started = /readyz answers 200 (whatever LOG_LEVEL hides).
  for (;;) {
    if (child.exitCode !== null) throw new Error(`devicegate exited ${child.exitCode}: ${output}`);
    if (Date.now() > deadline) throw new Error(`devicegate did not start: ${output}`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `http://127.0.0.1:${port}`, child, output: () => output, exited };
}

/** The pino lines of a process's output, parsed (other lines skipped). */
export function logLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
